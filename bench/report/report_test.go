package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample(t *testing.T) *Report {
	t.Helper()
	r := New(time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC), Options{Runs: 10})
	r.Define("Run latency", "run.median", "docker run --rm busybox true, median", "s", Lower)
	r.Define("Create", "create.rate", "100 creates, 10 parallel", "containers/s", Higher)
	r.Define("Ports", "port.rps", "nginx through -p", "req/s", Higher)
	r.Define("Memory", "mem.1", "per container, 1 running", "MiB", Lower)
	must(t, r.Set("run.median", VCH, 2.0))
	must(t, r.Set("run.median", Dockerd, 0.5))
	must(t, r.Set("create.rate", VCH, 10))
	must(t, r.Set("create.rate", Dockerd, 50))
	must(t, r.NA("port.rps", VCH, "-p is not supported"))
	must(t, r.Set("port.rps", Dockerd, 1000))
	must(t, r.Set("mem.1", VCH, 30))
	must(t, r.Set("mem.1", Dockerd, 10))
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRatio(t *testing.T) {
	r := sample(t)
	cases := []struct {
		key      string
		ratio    float64
		hasRatio bool
		slowdown float64
	}{
		{"run.median", 4, true, 4},
		{"create.rate", 0.2, true, 5},
		{"port.rps", 0, false, 0},
		{"mem.1", 3, true, 3},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			row := r.Row(c.key)
			if (row.Ratio != nil) != c.hasRatio {
				t.Fatalf("ratio present = %v, want %v", row.Ratio != nil, c.hasRatio)
			}
			if !c.hasRatio {
				return
			}
			if *row.Ratio != c.ratio {
				t.Fatalf("ratio = %v, want %v", *row.Ratio, c.ratio)
			}
			if s, _ := Slowdown(row); s != c.slowdown {
				t.Fatalf("slowdown = %v, want %v", s, c.slowdown)
			}
		})
	}
}

func TestUndefinedRow(t *testing.T) {
	r := New(time.Now(), Options{})
	if err := r.Set("nope", VCH, 1); err == nil {
		t.Fatal("Set on an undefined row succeeded")
	}
	if err := r.NA("nope", VCH, "x"); err == nil {
		t.Fatal("NA on an undefined row succeeded")
	}
}

func TestNonPositiveHasNoRatio(t *testing.T) {
	for _, c := range []struct{ vch, dockerd float64 }{{1, 0}, {-2, 1}, {1, -0.5}, {0, 3}} {
		r := New(time.Now(), Options{})
		r.Define("s", "k", "l", "s", Lower)
		must(t, r.Set("k", VCH, c.vch))
		must(t, r.Set("k", Dockerd, c.dockerd))
		if r.Row("k").Ratio != nil {
			t.Fatalf("ratio of %v and %v", c.vch, c.dockerd)
		}
	}
}

func TestWorst(t *testing.T) {
	r := sample(t)
	got := r.Worst(2)
	if len(got) != 2 || got[0].Key != "create.rate" || got[1].Key != "run.median" {
		t.Fatalf("Worst(2) = %v", keys(got))
	}
	got = r.Worst(10, "create.rate")
	if len(got) != 2 || got[0].Key != "run.median" || got[1].Key != "mem.1" {
		t.Fatalf("Worst(10, skip) = %v", keys(got))
	}
}

func keys(rows []*Row) []string {
	var k []string
	for _, r := range rows {
		k = append(k, r.Key)
	}
	return k
}

func TestMarkdown(t *testing.T) {
	r := sample(t)
	r.Machine.Accelerator = "tcg"
	r.Define("Boot", "boot.a", "boot a", "s", Lower)
	r.Define("Boot", "boot.b", "boot b", "s", Lower)
	must(t, r.NA("boot.a", Dockerd, "no VM"))
	must(t, r.NA("boot.b", Dockerd, "no VM"))
	r.Note("something failed")
	var b bytes.Buffer
	must(t, r.Markdown(&b))
	out := b.String()
	for _, want := range []string{
		"| docker run --rm busybox true, median | s | 2.00 | 0.500 | 4.00× |",
		"| nginx through -p | req/s | n/a | 1000 |  |",
		"| **Run latency** |",
		"- nginx through -p on vch: -p is not supported",
		"- dockerd, 2 rows (boot a; boot b): no VM",
		"accelerator of vch's container VMs: tcg",
		"- something failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample(t)
	path := filepath.Join(t.TempDir(), "results", "2026-11-22.json")
	must(t, r.WriteJSON(path))
	back, err := ReadJSON(path)
	must(t, err)
	if len(back.Rows) != len(r.Rows) {
		t.Fatalf("rows = %d, want %d", len(back.Rows), len(r.Rows))
	}
	row := back.Row("port.rps")
	if row == nil || row.VCH.Set() || row.VCH.NA != "-p is not supported" || *row.Dockerd.Value != 1000 {
		t.Fatalf("port.rps after round trip = %+v", row)
	}
	if *back.Row("run.median").Ratio != 4 {
		t.Fatal("ratio lost in round trip")
	}
}

func TestNumber(t *testing.T) {
	cases := map[float64]string{0: "0", 1234.5: "1234", 12.34: "12.3", 1.234: "1.23", 0.1234: "0.123", 0.001234: "0.0012"}
	for in, want := range cases {
		if got := Number(in); got != want {
			t.Errorf("Number(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestWorstBySection(t *testing.T) {
	r := sample(t)
	r.Define("Memory", "mem.10", "per container, 10 running", "MiB", Lower)
	must(t, r.Set("mem.10", VCH, 100))
	must(t, r.Set("mem.10", Dockerd, 2))
	got := r.WorstBySection(3)
	if len(got) != 3 || got[0].Key != "mem.10" || got[1].Key != "create.rate" || got[2].Key != "run.median" {
		t.Fatalf("WorstBySection(3) = %v", keys(got))
	}
}
