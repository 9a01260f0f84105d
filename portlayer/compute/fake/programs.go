package fake

import (
	"io"
	"strconv"
	"strings"
	"syscall"
)

// Proc is what a Program sees of its container.
type Proc struct {
	Args    []string
	Env     []string
	Tty     bool
	Stdin   io.Reader // EOF at once unless the container has OpenStdin
	Stdout  io.Writer
	Stderr  io.Writer // with a TTY this is Stdout
	Signals <-chan syscall.Signal
	Killed  <-chan struct{} // closed when the VM is powered off
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

func untilSignal(p *Proc) int {
	for {
		select {
		case s := <-p.Signals:
			if terminating[s] {
				return 128 + int(s)
			}
		case <-p.Killed:
			return 137
		}
	}
}

func stubborn(p *Proc) int {
	for {
		select {
		case <-p.Signals:
		case <-p.Killed:
			return 137
		}
	}
}

func sh(p *Proc) int {
	if len(p.Args) >= 3 && p.Args[1] == "-c" {
		script := strings.TrimSpace(p.Args[2])
		if rest, ok := strings.CutPrefix(script, "exit "); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				return n
			}
		}
		if rest, ok := strings.CutPrefix(script, "echo "); ok {
			_, _ = io.WriteString(p.Stdout, rest+"\n")
			return 0
		}
	}
	return untilSignal(p)
}
