package computetest

// Command lines the suite runs (Process.Args). A provider that runs real
// processes gets this behaviour from busybox; a fake implements it.
var (
	// CmdTrue exits 0.
	CmdTrue = []string{"true"}
	// CmdExit3 exits 3.
	CmdExit3 = []string{"sh", "-c", "exit 3"}
	// CmdOutErr writes "out\n" to stdout and "err\n" to stderr, exits 0.
	CmdOutErr = []string{"sh", "-c", "echo out; echo err >&2"}
	// CmdCount writes "1\n2\n3\n" to stdout, exits 0.
	CmdCount = []string{"sh", "-c", "echo 1; echo 2; echo 3"}
	// CmdSleep runs until a signal; SIGTERM ends it with 143.
	CmdSleep = []string{"sleep", "600"}
	// CmdCat copies stdin to stdout until EOF, then exits 0.
	CmdCat = []string{"cat"}
	// CmdPersist keeps state in the container's writable layer: the first
	// run writes "new\n" to stdout and creates /suite-data; every later run
	// of the same container writes "kept\n". Exits 0.
	CmdPersist = []string{"sh", "-c", "if test -f /suite-data; then echo kept; else echo new; touch /suite-data; fi"}
	// CmdShareFirst and CmdShareSecond talk through a volume at /v that
	// both mount while running: the first writes /v/one and waits for
	// /v/two, the second waits for /v/one and writes /v/two; each prints
	// what it read ("two\n" and "one\n") and exits 0.
	CmdShareFirst  = []string{"sh", "-c", "echo one > /v/one.tmp; mv /v/one.tmp /v/one; while ! test -f /v/two; do sleep 0.2; done; cat /v/two"}
	CmdShareSecond = []string{"sh", "-c", "while ! test -f /v/one; do sleep 0.2; done; cat /v/one; echo two > /v/two.tmp; mv /v/two.tmp /v/two"}
	// CmdMissing names no executable: Start fails, as docker's
	// `exec: "...": executable file not found in $PATH`.
	CmdMissing = []string{"vch-suite-no-such-command"}
)

// Exec command lines (ExecConfig.Args).
var (
	// CmdExecIdentity prints "$VCH_SUITE $(pwd) $(id -u)" and a newline.
	CmdExecIdentity = []string{"sh", "-c", `echo "$VCH_SUITE $(pwd) $(id -u)"`}
	// CmdExecSize prints the TTY size ("ROWS COLS") when started, then
	// again after reading a line from stdin.
	CmdExecSize = []string{"sh", "-c", "stty size; read line; stty size"}
	// CmdExecBig writes ExecBigSize zero bytes to stdout, exits 0.
	CmdExecBig = []string{"sh", "-c", "head -c 5000000 /dev/zero"}
)

// ExecBigSize is how many bytes CmdExecBig writes.
const ExecBigSize = 5000000
