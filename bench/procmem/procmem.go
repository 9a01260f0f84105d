package procmem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sample is the memory of a set of processes.
type Sample struct {
	PSSKiB  int64 // sum of PSS; RSS for processes without smaps_rollup
	RSSKiB  int64 // sum of RSS
	Pids    int   // processes counted
	RSSOnly int   // processes for which only RSS was available
}

// MiB returns the PSS sum in MiB.
func (s Sample) MiB() float64 { return float64(s.PSSKiB) / 1024 }

// Add sums two samples.
func (s Sample) Add(o Sample) Sample {
	return Sample{PSSKiB: s.PSSKiB + o.PSSKiB, RSSKiB: s.RSSKiB + o.RSSKiB,
		Pids: s.Pids + o.Pids, RSSOnly: s.RSSOnly + o.RSSOnly}
}

// Measure returns the summed memory of pids. A pid that no longer exists is
// skipped.
func Measure(pids []int) (Sample, error) {
	var s Sample
	for _, pid := range pids {
		pss, rss, rssOnly, err := one(pid)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return s, err
		}
		s.PSSKiB += pss
		s.RSSKiB += rss
		s.Pids++
		if rssOnly {
			s.RSSOnly++
		}
	}
	return s, nil
}

var errGone = errors.New("process gone")

func one(pid int) (pss, rss int64, rssOnly bool, err error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	data, err := os.ReadFile(filepath.Join(dir, "smaps_rollup"))
	if err == nil {
		pss, okP := field(data, "Pss:")
		rss, okR := field(data, "Rss:")
		if okP && okR {
			return pss, rss, false, nil
		}
		if len(data) == 0 {
			// kernel threads and zombies have an empty rollup
			return 0, 0, false, nil
		}
		return 0, 0, false, fmt.Errorf("procmem: pid %d: no Pss/Rss in smaps_rollup", pid)
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return 0, 0, false, errGone
		}
	} else if errors.Is(err, fs.ErrPermission) {
		return 0, 0, false, fmt.Errorf("procmem: pid %d: %w", pid, err)
	}
	status, serr := os.ReadFile(filepath.Join(dir, "status"))
	if serr != nil {
		return 0, 0, false, fmt.Errorf("procmem: pid %d: %w", pid, serr)
	}
	rss, _ = field(status, "VmRSS:")
	return rss, rss, true, nil
}

// field returns the kB value on the line starting with name.
func field(data []byte, name string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		return v, err == nil
	}
	return 0, false
}
