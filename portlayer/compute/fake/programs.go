package fake

import (
	"io"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Proc is what a Program sees of its container.
type Proc struct {
	Args    []string
	Env     []string
	Dir     string // working directory ("/" when unset)
	Tty     bool
	Stdin   io.Reader // EOF at once unless the container has OpenStdin
	Stdout  io.Writer
	Stderr  io.Writer // with a TTY this is Stdout
	Signals <-chan syscall.Signal
	Killed  <-chan struct{} // closed when the VM is powered off
	// User and Size are set for exec processes: the requested user and
	// the current TTY size.
	User string
	Size func() (height, width uint)
}

// Program is a container's main process; it returns the exit code.
type Program func(p *Proc) int

// Builtins returns a fresh copy of the builtin program table.
func Builtins() map[string]Program {
	return map[string]Program{
		"true":     func(*Proc) int { return 0 },
		"false":    func(*Proc) int { return 1 },
		"echo":     echo,
		"cat":      cat,
		"sleep":    untilSignal,
		"stubborn": stubborn,
		"sh":       sh,
	}
}

func echo(p *Proc) int {
	_, _ = io.WriteString(p.Stdout, strings.Join(p.Args[1:], " ")+"\n")
	return 0
}

func cat(p *Proc) int {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(p.Stdout, p.Stdin)
		close(done)
	}()
	select {
	case <-done:
		return 0
	case <-p.Killed:
		return 137
	}
}

// terminating are the signals whose default action ends a process.
var terminating = map[syscall.Signal]bool{
	syscall.SIGHUP: true, syscall.SIGINT: true, syscall.SIGQUIT: true,
	syscall.SIGTERM: true, syscall.SIGUSR1: true, syscall.SIGUSR2: true,
	syscall.SIGKILL: true, syscall.SIGPIPE: true, syscall.SIGALRM: true,
}

func untilSignal(p *Proc) int { return untilSignalExcept(p, nil) }

func stubborn(p *Proc) int {
	for {
		select {
		case <-p.Signals:
		case <-p.Killed:
			return 137
		}
	}
}

// sh interprets a tiny subset of shell for `sh -c script`: commands
// separated by ";" or newlines, each one of echo (with ">&2" to stderr),
// exit N, true, false, cat, env, pwd, trap "" SIGNAL... (ignore those signals)
// and sleep (a no-op unless it is the last command, which then runs until
// a terminating signal). Without -c, sh waits for a signal like sleep.
func sh(p *Proc) int {
	if len(p.Args) < 3 || p.Args[1] != "-c" {
		return untilSignal(p)
	}
	cmds := strings.FieldsFunc(p.Args[2], func(r rune) bool { return r == ';' || r == '\n' })
	ignored := map[syscall.Signal]bool{}
	status := 0
	for i, c := range cmds {
		words := strings.Fields(c)
		if len(words) == 0 {
			continue
		}
		last := i == len(cmds)-1
		switch words[0] {
		case "echo":
			out := p.Stdout
			args := words[1:]
			if n := len(args); n > 0 && args[n-1] == ">&2" {
				out, args = p.Stderr, args[:n-1]
			}
			_, _ = io.WriteString(out, unquote(strings.Join(args, " "))+"\n")
			status = 0
		case "exit":
			if len(words) > 1 {
				if n, err := strconv.Atoi(words[1]); err == nil {
					return n
				}
			}
			return status
		case "true":
			status = 0
		case "false":
			status = 1
		case "cat":
			status = cat(p)
		case "env":
			for _, e := range p.Env {
				_, _ = io.WriteString(p.Stdout, e+"\n")
			}
		case "pwd":
			_, _ = io.WriteString(p.Stdout, p.Dir+"\n")
		case "trap":
			for _, w := range words[1:] {
				if sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(w), "SIG")); sig != 0 {
					ignored[sig] = true
				}
			}
		case "sleep":
			if last {
				return untilSignalExcept(p, ignored)
			}
		default:
			_, _ = io.WriteString(p.Stderr, "sh: "+words[0]+": not found\n")
			status = 127
		}
	}
	return status
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func untilSignalExcept(p *Proc, ignored map[syscall.Signal]bool) int {
	for {
		select {
		case s := <-p.Signals:
			if terminating[s] && !ignored[s] {
				return 128 + int(s)
			}
		case <-p.Killed:
			return 137
		}
	}
}
