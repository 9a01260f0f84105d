package stats

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}
	cases := []struct {
		name string
		xs   []float64
		p    float64
		want float64
		ok   bool
	}{
		{"empty", nil, 50, 0, false},
		{"p zero", ten, 0, 0, false},
		{"p over 100", ten, 101, 0, false},
		{"p90 of ten", ten, 90, 9, true},
		{"p100 is max", ten, 100, 10, true},
		{"p50 of ten", ten, 50, 5, true},
		{"tiny p is min", ten, 0.1, 1, true},
		{"single", []float64{3}, 90, 3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Percentile(c.xs, c.p)
			if ok != c.ok || got != c.want {
				t.Fatalf("Percentile(%v, %v) = %v, %v; want %v, %v", c.xs, c.p, got, ok, c.want, c.ok)
			}
		})
	}
	if ten[0] != 10 || ten[1] != 1 {
		t.Fatalf("input was reordered: %v", ten)
	}
}

func TestMedianMean(t *testing.T) {
	cases := []struct {
		name   string
		xs     []float64
		median float64
		mean   float64
		ok     bool
	}{
		{"empty", nil, 0, 0, false},
		{"odd", []float64{3, 1, 2}, 2, 2, true},
		{"even", []float64{4, 1, 3, 2}, 2.5, 2.5, true},
		{"skewed", []float64{1, 1, 1, 9}, 1, 3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, ok := Median(c.xs)
			if ok != c.ok || m != c.median {
				t.Fatalf("Median = %v, %v; want %v, %v", m, ok, c.median, c.ok)
			}
			a, ok := Mean(c.xs)
			if ok != c.ok || a != c.mean {
				t.Fatalf("Mean = %v, %v; want %v, %v", a, ok, c.mean, c.ok)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	got := Seconds([]time.Duration{1500 * time.Millisecond, 0})
	if len(got) != 2 || got[0] != 1.5 || got[1] != 0 {
		t.Fatalf("Seconds = %v", got)
	}
}
