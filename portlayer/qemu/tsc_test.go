package qemu

import "testing"

func TestParseDmesgTSC(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
		ok       bool
	}{
		{"detected", "[    0.000247] tsc: Detected 2096.019 MHz processor\n", 2096019, true},
		{"refined wins", "[0.0] tsc: Detected 2096.019 MHz processor\n[1.2] tsc: Refined TSC clocksource calibration: 2095.998 MHz\n", 2095998, true},
		{"integer MHz", "tsc: Detected 3000 MHz processor", 3000000, true},
		{"long fraction truncated", "tsc: Detected 2400.0005 MHz processor", 2400000, true},
		{"last detection", "tsc: Detected 1000.000 MHz processor\ntsc: Detected 1500.500 MHz processor", 1500500, true},
		{"absent", "[0.0] Linux version 6.1\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseDmesgTSC(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %d %v, want %d %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseCPUInfoMHz(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
		ok       bool
	}{
		{"first cpu", "processor\t: 0\ncpu MHz\t\t: 2096.019\ncache size\t: 512 KB\nprocessor\t: 1\ncpu MHz\t\t: 1000.000\n", 2096019, true},
		{"no fraction", "cpu MHz : 2500\n", 2500000, true},
		{"garbage", "cpu MHz : fast\n", 0, false},
		{"absent", "processor : 0\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseCPUInfoMHz(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %d %v, want %d %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
