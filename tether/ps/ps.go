package ps

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vchproject/vch/errdefs"
)

// Table is docker top's answer.
type Table struct {
	Titles    []string   `json:"titles"`
	Processes [][]string `json:"processes"`
}

// Proc is what ps knows about one process.
type Proc struct {
	PID, PPID   int
	UID, GID    int
	State       string
	Comm        string
	Args        []string
	TTY         int // tty_nr from stat
	UTime       uint64
	STime       uint64 // clock ticks
	StartTicks  uint64 // since boot
	VSizeBytes  uint64
	RSSPages    int64
	Threads     int
	kernelTread bool
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// System is what ps needs besides the processes.
type System struct {
	Now      time.Time
	BootTime time.Time
	Uptime   time.Duration
	MemTotal uint64 // bytes
	PageSize int
	Users    map[int]string // uid -> name
	Groups   map[int]string // gid -> name
}

// Read reads every process of the procfs at root, except PID 1 and kernel
// threads.
func Read(root string) ([]Proc, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("ps: %w", err)
	}
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		p, err := readProc(filepath.Join(root, e.Name()), pid)
		if err != nil || p.kernelTread {
			continue // gone meanwhile, or not the container's
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// pfKthread is PF_KTHREAD in stat's flags.
const pfKthread = 0x00200000

func readProc(dir string, pid int) (Proc, error) {
	p := Proc{PID: pid}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	// comm is in parentheses and may hold spaces and parentheses.
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return p, fmt.Errorf("ps: bad stat of %d", pid)
	}
	p.Comm = string(stat[open+1 : close])
	f := strings.Fields(string(stat[close+1:]))
	// f[0] is field 3 (state) of proc(5).
	if len(f) < 22 {
		return p, fmt.Errorf("ps: short stat of %d", pid)
	}
	num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i-3], 10, 64); return n }
	p.State = f[0]
	p.PPID = int(num(4))
	p.TTY = int(num(7))
	flags := num(9)
	p.UTime, p.STime = num(14), num(15)
	p.Threads = int(num(20))
	p.StartTicks = num(22)
	p.VSizeBytes = num(23)
	rss, _ := strconv.ParseInt(f[24-3], 10, 64)
	p.RSSPages = rss
	p.kernelTread = flags&pfKthread != 0 || pid == 2 || p.PPID == 2
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			fs := strings.Fields(v)
			if len(fs) == 0 {
				continue
			}
			switch k {
			case "Uid":
				p.UID, _ = strconv.Atoi(fs[0])
			case "Gid":
				p.GID, _ = strconv.Atoi(fs[0])
			}
		}
	}
	if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cl) > 0 {
		p.Args = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	return p, nil
}

// ReadSystem reads boot time, uptime and memory from the procfs at root.
func ReadSystem(root string, now time.Time) System {
	s := System{Now: now, PageSize: os.Getpagesize()}
	if b, err := os.ReadFile(filepath.Join(root, "uptime")); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if sec, err := strconv.ParseFloat(f[0], 64); err == nil {
				s.Uptime = time.Duration(sec * float64(time.Second))
			}
		}
	}
	s.BootTime = now.Add(-s.Uptime)
	if b, err := os.ReadFile(filepath.Join(root, "meminfo")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					kb, _ := strconv.ParseUint(f[0], 10, 64)
					s.MemTotal = kb * 1024
				}
			}
		}
	}
	return s
}

// column is one ps output column.
type column struct {
	title string
	value func(p Proc, s System) string
}

var keywords = map[string]column{
	"pid":     {"PID", func(p Proc, _ System) string { return strconv.Itoa(p.PID) }},
	"ppid":    {"PPID", func(p Proc, _ System) string { return strconv.Itoa(p.PPID) }},
	"uid":     {"UID", func(p Proc, _ System) string { return strconv.Itoa(p.UID) }},
	"user":    {"USER", func(p Proc, s System) string { return name(s.Users, p.UID) }},
	"uname":   {"USER", func(p Proc, s System) string { return name(s.Users, p.UID) }},
	"euser":   {"EUSER", func(p Proc, s System) string { return name(s.Users, p.UID) }},
	"gid":     {"GID", func(p Proc, _ System) string { return strconv.Itoa(p.GID) }},
	"group":   {"GROUP", func(p Proc, s System) string { return name(s.Groups, p.GID) }},
	"comm":    {"COMMAND", func(p Proc, _ System) string { return p.Comm }},
	"ucmd":    {"CMD", func(p Proc, _ System) string { return p.Comm }},
	"args":    {"COMMAND", args},
	"command": {"COMMAND", args},
	"cmd":     {"CMD", args},
	"pcpu":    {"%CPU", pcpu},
	"%cpu":    {"%CPU", pcpu},
	"c":       {"C", func(p Proc, s System) string { return cpuPercent(p, s, "%.0f") }},
	"pmem":    {"%MEM", pmem},
	"%mem":    {"%MEM", pmem},
	"vsz":     {"VSZ", func(p Proc, _ System) string { return strconv.FormatUint(p.VSizeBytes/1024, 10) }},
	"rss":     {"RSS", func(p Proc, s System) string { return strconv.FormatInt(p.RSSPages*int64(s.PageSize)/1024, 10) }},
	"stat":    {"STAT", func(p Proc, _ System) string { return p.State }},
	"s":       {"S", func(p Proc, _ System) string { return p.State }},
	"tty":     {"TT", tty},
	"tname":   {"TTY", tty},
	"time":    {"TIME", cputime},
	"cputime": {"TIME", cputime},
	"etime":   {"ELAPSED", etime},
	"stime":   {"STIME", start},
	"start":   {"STARTED", start},
	"nlwp":    {"NLWP", func(p Proc, _ System) string { return strconv.Itoa(p.Threads) }},
}

func name(m map[int]string, id int) string {
	if n, ok := m[id]; ok {
		return n
	}
	return strconv.Itoa(id)
}

func args(p Proc, _ System) string {
	if len(p.Args) == 0 {
		return "[" + p.Comm + "]"
	}
	return strings.Join(p.Args, " ")
}

func started(p Proc, s System) time.Time {
	return s.BootTime.Add(time.Duration(p.StartTicks) * time.Second / clockTicks)
}

func cpuPercent(p Proc, s System, format string) string {
	ran := s.Now.Sub(started(p, s))
	if ran <= 0 {
		return fmt.Sprintf(format, 0.0)
	}
	used := time.Duration(p.UTime+p.STime) * time.Second / clockTicks
	return fmt.Sprintf(format, 100*used.Seconds()/ran.Seconds())
}

func pcpu(p Proc, s System) string { return cpuPercent(p, s, "%.1f") }

func pmem(p Proc, s System) string {
	if s.MemTotal == 0 {
		return "0.0"
	}
	return fmt.Sprintf("%.1f", 100*float64(p.RSSPages*int64(s.PageSize))/float64(s.MemTotal))
}

func tty(p Proc, _ System) string {
	if p.TTY == 0 {
		return "?"
	}
	major, minor := (p.TTY>>8)&0xfff, (p.TTY&0xff)|((p.TTY>>12)&0xfff00)
	if major >= 136 && major <= 143 {
		return fmt.Sprintf("pts/%d", (major-136)*256+minor)
	}
	return fmt.Sprintf("%d,%d", major, minor)
}

func cputime(p Proc, _ System) string {
	sec := (p.UTime + p.STime) / clockTicks
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

func etime(p Proc, s System) string {
	d := s.Now.Sub(started(p, s))
	if d < 0 {
		d = 0
	}
	sec := int64(d / time.Second)
	days, h, m, sc := sec/86400, sec/3600%24, sec/60%60, sec%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, sc)
	case h > 0:
		return fmt.Sprintf("%02d:%02d:%02d", h, m, sc)
	}
	return fmt.Sprintf("%02d:%02d", m, sc)
}

func start(p Proc, s System) string {
	t := started(p, s)
	if s.Now.Sub(t) < 24*time.Hour {
		return t.UTC().Format("15:04")
	}
	return t.UTC().Format("Jan02")
}

// Formats by option set.
var (
	fullFormat = []string{"user:UID", "pid", "ppid", "c", "stime", "tname", "time", "cmd"}
	userFormat = []string{"user", "pid", "%cpu", "%mem", "vsz", "rss", "tname", "stat", "start:START", "time", "command"}
	basicFmt   = []string{"pid", "tname", "time", "ucmd"}
)

// Columns turns ps options into columns. It returns an
// errdefs.ErrInvalidParameter-class error for options it does not know.
func Columns(opts []string) ([]string, error) {
	var custom []string
	full, user := false, false
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch {
		case o == "-o" || o == "o" || o == "-eo" || o == "-Ao" || o == "--format":
			if i+1 >= len(opts) {
				return nil, errdefs.InvalidParameter("ps: option " + o + " needs a format")
			}
			i++
			custom = append(custom, strings.Split(opts[i], ",")...)
		case strings.HasPrefix(o, "-o"), strings.HasPrefix(o, "-eo"):
			custom = append(custom, strings.Split(strings.TrimPrefix(strings.TrimPrefix(o, "-e"), "-o"), ",")...)
		case o == "-e" || o == "-A" || o == "-ef" || o == "-fe" || o == "-f" || o == "-eF" || o == "-ely" || o == "-Af":
			full = full || strings.ContainsAny(o, "fF")
		case strings.Trim(o, "-auxwe") == "" && strings.ContainsAny(o, "u"):
			user = true
		case strings.Trim(o, "-axwe") == "":
		default:
			return nil, errdefs.InvalidParameter(fmt.Sprintf("ps: unsupported option %q (vch's ps knows -e, -f, aux and -o)", o))
		}
	}
	switch {
	case len(custom) > 0:
		return custom, nil
	case user:
		return userFormat, nil
	case full || len(opts) == 0:
		return fullFormat, nil
	}
	return basicFmt, nil
}

// Format builds the table of procs for columns (keyword or keyword:TITLE).
func Format(procs []Proc, s System, cols []string) (Table, error) {
	var cs []column
	for _, k := range cols {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		kw, title, hasTitle := strings.Cut(k, "=")
		if !hasTitle {
			kw, title, hasTitle = strings.Cut(k, ":")
		}
		c, ok := keywords[strings.ToLower(kw)]
		if !ok {
			return Table{}, errdefs.InvalidParameter(fmt.Sprintf("ps: unknown output keyword %q", kw))
		}
		if hasTitle {
			c.title = title
		}
		cs = append(cs, c)
	}
	t := Table{Processes: [][]string{}}
	for _, c := range cs {
		t.Titles = append(t.Titles, c.title)
	}
	for _, p := range procs {
		row := make([]string, len(cs))
		for i, c := range cs {
			row[i] = c.value(p, s)
		}
		t.Processes = append(t.Processes, row)
	}
	return t, nil
}
