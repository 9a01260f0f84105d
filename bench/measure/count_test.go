package measure

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCountStop(t *testing.T) {
	for _, tc := range []struct {
		n, max       int
		avail, floor int64
		want         string
	}{
		{0, 200, 20000, 2048, ""},
		{199, 200, 2048, 2048, ""},
		{200, 200, 20000, 2048, "the maximum (200) was reached"},
		{57, 200, 2047, 2048, "host MemAvailable fell to 2047 MiB, below the 2048 MiB floor"},
		{200, 200, 100, 2048, "the maximum (200) was reached"},
	} {
		if got := countStop(tc.n, tc.max, tc.avail, tc.floor); got != tc.want {
			t.Errorf("countStop(%d, %d, %d, %d) = %q, want %q", tc.n, tc.max, tc.avail, tc.floor, got, tc.want)
		}
	}
}

func TestSlowStop(t *testing.T) {
	if got := slowStop(112, 31500*time.Millisecond, 30*time.Second); got != "start 112 took 31.5 s, over the 30s ceiling: the host is saturated" {
		t.Errorf("slow start: %q", got)
	}
	if got := slowStop(5, 30*time.Second, 30*time.Second); got != "" {
		t.Errorf("a start at the ceiling stops: %q", got)
	}
	if got := slowStop(5, time.Hour, 0); got != "" {
		t.Errorf("no ceiling stops: %q", got)
	}
}

func TestLastNAndGroups(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	if got := lastN(xs, 10); !reflect.DeepEqual(got, xs[3:]) {
		t.Errorf("lastN 10 of 13: %v", got)
	}
	if got := lastN(xs[:4], 10); !reflect.DeepEqual(got, xs[:4]) {
		t.Errorf("lastN 10 of 4: %v", got)
	}
	if got := medianByGroup(xs, 5); !reflect.DeepEqual(got, []float64{3, 8, 12}) {
		t.Errorf("medians by 5: %v", got)
	}
	if got := formatSeconds([]float64{0.5, 1.234}); got != "0.50 1.23" {
		t.Errorf("formatSeconds: %q", got)
	}
}

func TestParseMemAvailable(t *testing.T) {
	kib, err := parseMemAvailable([]byte("MemTotal:       24563540 kB\nMemFree:         1000 kB\nMemAvailable:   20123456 kB\nBuffers: 1 kB\n"))
	if err != nil || kib != 20123456 {
		t.Fatalf("MemAvailable %d, %v", kib, err)
	}
	if _, err := parseMemAvailable([]byte("MemTotal: 1 kB\n")); err == nil {
		t.Fatal("meminfo without MemAvailable accepted")
	}
}

func TestParseLoad1(t *testing.T) {
	v, err := parseLoad1("7.52 3.10 1.02 12/345 6789")
	if err != nil || v != 7.52 {
		t.Fatalf("load1 %v, %v", v, err)
	}
	if _, err := parseLoad1(""); err == nil {
		t.Fatal("empty loadavg accepted")
	}
}

func TestCPUTicks(t *testing.T) {
	a, err := parseCPUTicks([]byte("cpu  100 10 50 800 40 0 0 0 0 0\ncpu0 50 5 25 400 20 0 0 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a != (cpuTicks{busy: 160, total: 1000}) {
		t.Fatalf("ticks %+v", a)
	}
	b, err := parseCPUTicks([]byte("cpu  250 10 100 1000 40 0 0 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := busyPercent(a, b); got != 50 {
		t.Errorf("busy %v%%, want 50", got)
	}
	if got := busyPercent(b, b); got != 0 {
		t.Errorf("busy over no time %v", got)
	}
	if _, err := parseCPUTicks([]byte("intr 1 2 3\n")); err == nil || !strings.Contains(err.Error(), "cpu line") {
		t.Errorf("stat without the cpu line: %v", err)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("docker: Error\n  response\tfrom daemon", 100); got != "docker: Error response from daemon" {
		t.Errorf("oneLine: %q", got)
	}
	if got := oneLine("abcdef", 3); got != "abc…" {
		t.Errorf("cut: %q", got)
	}
}
