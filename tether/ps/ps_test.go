package ps

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/errdefs"
)

func TestColumns(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		want []string
	}{
		{nil, fullFormat},
		{[]string{"-ef"}, fullFormat},
		{[]string{"-e"}, basicFmt},
		{[]string{"aux"}, userFormat},
		{[]string{"-aux"}, userFormat},
		{[]string{"-o", "pid,comm"}, []string{"pid", "comm"}},
		{[]string{"-eo", "pid,args"}, []string{"pid", "args"}},
		{[]string{"-opid,user"}, []string{"pid", "user"}},
	} {
		got, err := Columns(tc.opts)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Columns(%q) = %q, %v; want %q", tc.opts, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"--forest"}, {"-o"}, {"Z"}} {
		if _, err := Columns(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("Columns(%q): %v", bad, err)
		}
	}
}

// TestReadHostProcfs reads this machine's /proc: the test binary is there
// with its arguments, kernel threads are not.
func TestReadHostProcfs(t *testing.T) {
	procs, err := Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var me *Proc
	for i := range procs {
		if procs[i].PID == 2 || procs[i].PPID == 2 {
			t.Fatalf("kernel thread listed: %+v", procs[i])
		}
		if procs[i].PID == os.Getpid() {
			me = &procs[i]
		}
	}
	if me == nil {
		t.Fatal("the test process is missing")
	}
	if me.PPID != os.Getppid() || me.UID != os.Getuid() || len(me.Args) == 0 || me.Args[0] != os.Args[0] || me.Threads < 1 {
		t.Fatalf("test process read as %+v", *me)
	}
	sys := ReadSystem("/proc", time.Now())
	sys.Users = map[int]string{os.Getuid(): "tester"}
	cols, _ := Columns([]string{"-o", "pid,user,args,etime,%cpu,rss"})
	tab, err := Format([]Proc{*me}, sys, cols)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tab.Titles, []string{"PID", "USER", "COMMAND", "ELAPSED", "%CPU", "RSS"}) {
		t.Fatalf("titles %q", tab.Titles)
	}
	row := tab.Processes[0]
	if row[0] != strconv.Itoa(os.Getpid()) || row[1] != "tester" || !strings.HasPrefix(row[2], os.Args[0]) || row[5] == "0" {
		t.Fatalf("row %q", row)
	}
	if _, err := Format(nil, sys, []string{"pid", "bogus"}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("unknown keyword: %v", err)
	}
	tab, _ = Format(nil, sys, []string{"pid=P"})
	if tab.Titles[0] != "P" || tab.Processes == nil {
		t.Fatalf("renamed column: %+v", tab)
	}
}

func TestFormatValues(t *testing.T) {
	boot := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	sys := System{Now: boot.Add(3 * time.Hour), BootTime: boot, MemTotal: 1 << 30, PageSize: 4096, Users: map[int]string{0: "root"}}
	p := Proc{PID: 7, PPID: 1, State: "S", Comm: "sh", Args: []string{"sh", "-c", "x"}, TTY: 136<<8 | 3,
		UTime: 30 * clockTicks, STime: 6 * clockTicks, StartTicks: 3600 * clockTicks, RSSPages: 256, VSizeBytes: 4 << 20}
	tab, err := Format([]Proc{p}, sys, fullFormat)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"root", "7", "1", "0", "11:00", "pts/3", "00:00:36", "sh -c x"}
	if !reflect.DeepEqual(tab.Processes[0], want) {
		t.Fatalf("ps -ef row %q, want %q", tab.Processes[0], want)
	}
	tab, _ = Format([]Proc{p}, sys, []string{"etime", "pmem", "vsz", "rss", "stat"})
	if want := []string{"02:00:00", "0.1", "4096", "1024", "S"}; !reflect.DeepEqual(tab.Processes[0], want) {
		t.Fatalf("row %q, want %q", tab.Processes[0], want)
	}
}
