package procmem

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is one entry of the process table.
type Proc struct {
	Pid  int
	PPid int
	Comm string
}

// Table reads the current process table.
func Table() ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("procmem: %w", err)
	}
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		p, ok := parseStat(pid, string(data))
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// parseStat reads pid, comm and ppid from a /proc/<pid>/stat line. comm is
// in parentheses and may itself hold spaces and parentheses.
func parseStat(pid int, s string) (Proc, bool) {
	open := strings.IndexByte(s, '(')
	closing := strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return Proc{}, false
	}
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 2 {
		return Proc{}, false
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return Proc{}, false
	}
	return Proc{Pid: pid, PPid: ppid, Comm: s[open+1 : closing]}, true
}

// Descendants returns root and every process below it in table.
func Descendants(table []Proc, root int) []int {
	children := map[int][]int{}
	found := false
	for _, p := range table {
		children[p.PPid] = append(children[p.PPid], p.Pid)
		if p.Pid == root {
			found = true
		}
	}
	if !found {
		return nil
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// Parent returns the parent of pid in table, or 0.
func Parent(table []Proc, pid int) Proc {
	for _, p := range table {
		if p.Pid == pid {
			for _, q := range table {
				if q.Pid == p.PPid {
					return q
				}
			}
		}
	}
	return Proc{}
}

// Tree measures root and all its descendants now.
func Tree(root int) (Sample, error) {
	table, err := Table()
	if err != nil {
		return Sample{}, err
	}
	return Measure(Descendants(table, root))
}
