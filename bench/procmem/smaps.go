package procmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Mapping is one memory mapping of a process with its resident memory.
type Mapping struct {
	Range       string // start-end, hex
	Name        string // file path, [heap], or "" for anonymous
	SizeKiB     int64
	RssKiB      int64
	PssKiB      int64
	AnonKiB     int64 // anonymous pages, including private copies of file pages
	AnonHugeKiB int64 // resident in transparent huge pages
}

// TopMappings returns the n mappings of pid with the most resident memory.
func TopMappings(pid, n int) ([]Mapping, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps"))
	if err != nil {
		return nil, fmt.Errorf("procmem: %w", err)
	}
	maps := parseSmaps(data)
	slices.SortStableFunc(maps, func(a, b Mapping) int { return int(b.RssKiB - a.RssKiB) })
	if len(maps) > n {
		maps = maps[:n]
	}
	return maps, nil
}

// parseSmaps reads /proc/<pid>/smaps: a header line per mapping
// ("start-end perms offset dev inode [name]") followed by "Key: value kB"
// lines.
func parseSmaps(data []byte) []Mapping {
	var out []Mapping
	var cur *Mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") && strings.Contains(f[0], "-") {
			out = append(out, Mapping{Range: f[0]})
			cur = &out[len(out)-1]
			if len(f) >= 6 {
				cur.Name = strings.Join(f[5:], " ")
			}
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Size:":
			cur.SizeKiB = v
		case "Rss:":
			cur.RssKiB = v
		case "Pss:":
			cur.PssKiB = v
		case "Anonymous:":
			cur.AnonKiB = v
		case "AnonHugePages:":
			cur.AnonHugeKiB = v
		}
	}
	return out
}

// String describes the mapping for a report note.
func (m Mapping) String() string {
	name := m.Name
	if name == "" {
		name = "anonymous"
	}
	s := fmt.Sprintf("%s (%.0f MiB mapped): %.1f MiB resident", name, float64(m.SizeKiB)/1024, float64(m.RssKiB)/1024)
	if m.AnonHugeKiB > 0 {
		s += fmt.Sprintf(", %.1f MiB of it in huge pages", float64(m.AnonHugeKiB)/1024)
	}
	return s
}
