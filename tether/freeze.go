package tether

import (
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// freezer stops every process in the guest but the tether (PID 1) and
// kernel threads with SIGSTOP, and continues exactly those later. The
// host freezes before it pauses the VM (QMP stop), so it can let the VM run
// for a docker cp on a paused container without the container's
// processes running. Unlike docker's cgroup freezer a stopped process is
// visible as stopped (state T) and its parent may get SIGCHLD.
type freezer struct {
	mu      sync.Mutex
	stopped map[int]bool
	// byArchive: the processes are stopped for an archive read (docker
	// commit), which continues them when it ends, unless the host froze
	// them meanwhile (docker pause) and so owns the freeze.
	byArchive bool
	readers   int // archive reads sharing the freeze
}

// hostOwns hands a freeze made for an archive read to the host (a
// docker pause arrived during it): the read's end leaves it.
func (f *freezer) hostOwns() {
	f.mu.Lock()
	f.byArchive = false
	f.mu.Unlock()
}

// freezeForRead stops the processes for a read of the container's files
// and returns what continues them. A freeze the host made (the container
// is paused) is left as it is; reads that overlap share one freeze, and
// the last to end continues the processes. The check, the freeze and
// taking ownership are one step, so a docker pause cannot slip between
// them and be undone by the read's end.
func (f *freezer) freezeForRead() (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stopped) > 0 && !f.byArchive {
		return func() {}, nil
	}
	if !f.byArchive {
		if err := f.freezeLocked(); err != nil {
			_ = f.thawLocked()
			return nil, err
		}
		f.byArchive = true
	}
	f.readers++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.readers--
		if f.readers == 0 && f.byArchive {
			f.byArchive = false
			_ = f.thawLocked()
		}
	}, nil
}

func (f *freezer) freeze() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.freezeLocked()
}

func (f *freezer) freezeLocked() error {
	if f.stopped == nil {
		f.stopped = map[int]bool{}
	}
	// A process forked before its parent stopped shows up in a later
	// round; a stopped process forks no more.
	for round := 0; round < 10; round++ {
		pids, err := userPids()
		if err != nil {
			return err
		}
		fresh := 0
		for _, pid := range pids {
			if f.stopped[pid] {
				continue
			}
			if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue
				}
				return err
			}
			f.stopped[pid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}

func (f *freezer) thaw() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.thawLocked()
}

func (f *freezer) thawLocked() error {
	for pid := range f.stopped {
		if err := unix.Kill(pid, unix.SIGCONT); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
		delete(f.stopped, pid)
	}
	return nil
}

// userPids lists the processes other than PID 1 and kernel threads
// (kthreadd, PID 2, and its children).
func userPids() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 2 {
			continue
		}
		if ppid, ok := parentPid(pid); !ok || ppid == 2 {
			continue
		}
		out = append(out, pid)
	}
	return out, nil
}

// parentPid reads the PPid of pid from /proc/PID/stat (after the comm,
// which may hold spaces and parentheses).
func parentPid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 || i+4 >= len(b) {
		return 0, false
	}
	// ") S PPID ..."
	rest := b[i+4:]
	j := 0
	for j < len(rest) && rest[j] != ' ' {
		j++
	}
	ppid, err := strconv.Atoi(string(rest[:j]))
	return ppid, err == nil
}
