package execspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Exit codes docker reports when the command cannot be run.
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
	// ExitStartFailed is for every other failure to start the process.
	ExitStartFailed = 128
)

// Error is a failure to run the command, with the exit code docker reports
// for it.
type Error struct {
	Msg      string
	ExitCode int
}

func (e *Error) Error() string { return e.Msg }

// ExitCode returns the exit code to report for err: an *Error's own code,
// else ExitStartFailed.
func ExitCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.ExitCode
	}
	return ExitStartFailed
}

// LookPath finds the command file inside root as the container would:
// a name with a slash is taken as is (relative to dir, the working
// directory inside the container); otherwise each directory of pathEnv is
// tried. It returns the path to hand to execve after chroot (inside the
// container), or an *Error with docker's message and exit code.
func LookPath(root, dir, file, pathEnv string) (string, error) {
	if file == "" {
		return "", &Error{Msg: `exec: "": executable file not found in $PATH`, ExitCode: ExitNotFound}
	}
	if strings.Contains(file, "/") {
		p := file
		if !path.IsAbs(p) {
			p = path.Join("/", dir, p)
		}
		if err := executable(root, p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", &Error{Msg: fmt.Sprintf("exec: %q: stat %s: no such file or directory", file, file), ExitCode: ExitNotFound}
			}
			return "", &Error{Msg: fmt.Sprintf("exec: %q: permission denied", file), ExitCode: ExitNotExecutable}
		}
		return file, nil
	}
	denied := false
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			d = "."
		}
		p := path.Join(d, file)
		if !path.IsAbs(p) {
			p = path.Join("/", dir, p)
		}
		err := executable(root, p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			denied = true
		}
	}
	if denied {
		return "", &Error{Msg: fmt.Sprintf("exec: %q: permission denied", file), ExitCode: ExitNotExecutable}
	}
	return "", &Error{Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", file), ExitCode: ExitNotFound}
}

// executable reports fs.ErrNotExist for a missing file and fs.ErrPermission
// for a directory or a file without any execute bit.
func executable(root, p string) error {
	host, err := InRoot(root, p)
	if err != nil {
		return err
	}
	st, err := os.Stat(host)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fs.ErrNotExist
		}
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
