package procmem

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		name string
		line string
		want Proc
		ok   bool
	}{
		{"plain", "42 (qemu-system-x86) S 7 42 42 0", Proc{42, 7, "qemu-system-x86"}, true},
		{"spaces and parens in comm", "42 (a (b) c) R 1 2 3", Proc{42, 1, "a (b) c"}, true},
		{"truncated", "42 (x) S", Proc{}, false},
		{"garbage", "nothing here", Proc{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseStat(42, c.line)
			if ok != c.ok || got != c.want {
				t.Fatalf("parseStat = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestDescendants(t *testing.T) {
	table := []Proc{{1, 0, "init"}, {10, 1, "d"}, {11, 10, "c1"}, {12, 10, "c2"}, {13, 11, "g"}, {20, 1, "other"}}
	got := Descendants(table, 10)
	slices.Sort(got)
	if !slices.Equal(got, []int{10, 11, 12, 13}) {
		t.Fatalf("Descendants(10) = %v", got)
	}
	if got := Descendants(table, 99); got != nil {
		t.Fatalf("Descendants of a missing pid = %v", got)
	}
	if p := Parent(table, 13); p.Pid != 11 {
		t.Fatalf("Parent(13) = %+v", p)
	}
}

func TestField(t *testing.T) {
	data := []byte("Rss:                1234 kB\nPss:                 567 kB\n")
	if v, ok := field(data, "Pss:"); !ok || v != 567 {
		t.Fatalf("Pss = %v, %v", v, ok)
	}
	if _, ok := field(data, "Swap:"); ok {
		t.Fatal("found a missing field")
	}
}

// TestTreeCountsChild measures this test process with a child: the tree
// must count both, and PSS can never exceed RSS.
func TestTreeCountsChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s, err := Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Pids < 2 {
		t.Fatalf("tree counted %d processes, want >= 2", s.Pids)
	}
	if s.PSSKiB <= 0 || s.PSSKiB > s.RSSKiB {
		t.Fatalf("PSS %d kB, RSS %d kB", s.PSSKiB, s.RSSKiB)
	}
	self, err := Measure([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if self.Pids != 1 || self.PSSKiB > s.PSSKiB {
		t.Fatalf("self sample %+v", self)
	}
}

func TestMeasureSkipsGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	s, err := Measure([]int{cmd.Process.Pid})
	if err != nil || s.Pids != 0 {
		t.Fatalf("Measure(ended pid) = %+v, %v", s, err)
	}
}

func TestParseSmaps(t *testing.T) {
	data := []byte(`7f3c6be00000-7f3c7be00000 rw-p 00000000 00:00 0 
Size:             262144 kB
Rss:              139264 kB
AnonHugePages:    139264 kB
VmFlags: rd wr mr mw me ac sd hg
558ff0ef4000-558ff148b000 r-xp 00000000 fe:00 1234   /usr/bin/qemu-system-x86_64
Size:               5724 kB
Rss:                5272 kB
AnonHugePages:         0 kB
`)
	got := parseSmaps(data)
	if len(got) != 2 {
		t.Fatalf("parseSmaps = %+v", got)
	}
	if got[0].RssKiB != 139264 || got[0].AnonHugeKiB != 139264 || got[0].Name != "" || got[0].SizeKiB != 262144 {
		t.Fatalf("guest RAM mapping = %+v", got[0])
	}
	if got[1].Name != "/usr/bin/qemu-system-x86_64" || got[1].RssKiB != 5272 {
		t.Fatalf("binary mapping = %+v", got[1])
	}
	if s := got[0].String(); s != "anonymous (256 MiB mapped): 136.0 MiB resident, 136.0 MiB of it in huge pages" {
		t.Fatalf("String = %q", s)
	}
}

func TestTopMappingsSelf(t *testing.T) {
	top, err := TopMappings(os.Getpid(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) == 0 || len(top) > 3 {
		t.Fatalf("TopMappings = %+v", top)
	}
	for i := 1; i < len(top); i++ {
		if top[i].RssKiB > top[i-1].RssKiB {
			t.Fatalf("not sorted: %+v", top)
		}
	}
}
