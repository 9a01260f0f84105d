package qemu

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

var (
	tscDetected = regexp.MustCompile(`tsc: Detected ([0-9]+(?:\.[0-9]+)?) MHz`)
	tscRefined  = regexp.MustCompile(`tsc: Refined TSC clocksource calibration: ([0-9]+(?:\.[0-9]+)?) MHz`)
)

// parseDmesgTSC finds the host TSC frequency in kernel log text, preferring
// the refined calibration over the early detection. It returns kHz.
func parseDmesgTSC(dmesg string) (int, bool) {
	for _, re := range []*regexp.Regexp{tscRefined, tscDetected} {
		m := re.FindAllStringSubmatch(dmesg, -1)
		if len(m) == 0 {
			continue
		}
		if khz, ok := mhzToKHz(m[len(m)-1][1]); ok {
			return khz, true
		}
	}
	return 0, false
}

// parseCPUInfoMHz reads the first "cpu MHz" line of /proc/cpuinfo text.
func parseCPUInfoMHz(cpuinfo string) (int, bool) {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			return mhzToKHz(strings.TrimSpace(v))
		}
	}
	return 0, false
}

// mhzToKHz converts a decimal MHz figure ("2096.019") to kHz exactly.
func mhzToKHz(s string) (int, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	mhz, err := strconv.Atoi(whole)
	if err != nil || mhz <= 0 {
		return 0, false
	}
	frac = (frac + "000")[:3]
	k, err := strconv.Atoi(frac)
	if err != nil {
		return 0, false
	}
	return mhz*1000 + k, true
}

// hostTSCkHz detects the host TSC frequency: the kernel log first, then
// /proc/cpuinfo. It returns 0 if neither says.
func hostTSCkHz(ctx context.Context) int {
	if out, err := exec.CommandContext(ctx, "dmesg").Output(); err == nil {
		if khz, ok := parseDmesgTSC(string(out)); ok {
			return khz
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if khz, ok := parseCPUInfoMHz(string(b)); ok {
			return khz
		}
	}
	return 0
}
