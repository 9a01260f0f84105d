package vsimtest

import (
	"fmt"
	"os"
)

// mainEnv marks a process (and its children) whose TMPDIR Main set.
const mainEnv = "VCH_VSIMTEST_TMPDIR"

// Main runs a test binary's tests (run: m.Run, or a wrapper of it) with
// TMPDIR set to a directory of the binary's own, and removes that
// directory when they are done. govmomi's simulator makes a govcsim-*
// directory in os.TempDir for every model it creates, and the shared
// model (Shared) is never removed; this keeps them, and anything else a
// test leaves in os.TempDir, out of /tmp. Every package whose tests run
// the simulator calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(vsimtest.Main(m.Run)) }
//
// Processes the tests start inherit TMPDIR; a re-run of the binary (in a
// network namespace) keeps the directory its parent made.
func Main(run func() int) int {
	if os.Getenv(mainEnv) != "" {
		return run()
	}
	dir, err := os.MkdirTemp("", "vch-vsim-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vsimtest: make the tests' temporary directory: %v\n", err)
		return 1
	}
	old, had := os.LookupEnv("TMPDIR")
	if err := os.Setenv("TMPDIR", dir); err != nil {
		fmt.Fprintf(os.Stderr, "vsimtest: set TMPDIR: %v\n", err)
		_ = os.Remove(dir)
		return 1
	}
	_ = os.Setenv(mainEnv, dir)
	code := run()
	_ = os.Unsetenv(mainEnv)
	if had {
		_ = os.Setenv("TMPDIR", old)
	} else {
		_ = os.Unsetenv("TMPDIR")
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "vsimtest: remove the tests' temporary directory: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
