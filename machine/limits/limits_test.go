package limits

import (
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/vchconfig"
)

func TestParseCPU(t *testing.T) {
	for in, want := range map[string]vchconfig.CPU{
		"":          {},
		"0":         {},
		"2000":      {MHz: 2000},
		"2000MHz":   {MHz: 2000},
		"2000 mhz":  {MHz: 2000},
		"2.5GHz":    {MHz: 2500},
		"1core":     {MilliCores: 1000},
		"1.5cores":  {MilliCores: 1500},
		"0.25cores": {MilliCores: 250},
	} {
		got, err := ParseCPU("cpu", in)
		if err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "abc", "1.5", "2 parsecs", "0.001cores", "NaN"} {
		if _, err := ParseCPU("cpu", in); err == nil || !strings.Contains(err.Error(), "--cpu") {
			t.Errorf("ParseCPU(%q) = %v, want an error naming --cpu", in, err)
		}
	}
}

func TestCPUString(t *testing.T) {
	for _, in := range []string{"2000MHz", "1core", "2cores", "1.5cores", "0.25cores"} {
		c, err := ParseCPU("cpu", in)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != in {
			t.Errorf("%q renders as %q", in, c.String())
		}
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "2048": 2048, "512M": 512, "512MB": 512, "2G": 2048, "2GiB": 2048, "1.5g": 1536, "1T": 1 << 20} {
		got, err := ParseMemoryMB("memory", in)
		if err != nil || got != want {
			t.Errorf("ParseMemoryMB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-5", "12X", "1k", "lots"} {
		if _, err := ParseMemoryMB("memory", in); err == nil {
			t.Errorf("ParseMemoryMB(%q) accepted", in)
		}
	}
}

func TestShares(t *testing.T) {
	for in, want := range map[string]string{"": "", "normal": "", "LOW": "low", "high": "high", "1500": "1500"} {
		got, err := ParseShares("cpu-shares", in)
		if err != nil || got != want {
			t.Errorf("ParseShares(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"0", "medium", "-3", "9999999"} {
		if _, err := ParseShares("cpu-shares", in); err == nil {
			t.Errorf("ParseShares(%q) accepted", in)
		}
	}
	// 1:2:4 as in the seed.
	if l, n, h := CPUSharesV1("low"), CPUSharesV1(""), CPUSharesV1("high"); l*2 != n || n*2 != h || n != 1024 {
		t.Errorf("cpu.shares low/normal/high = %d/%d/%d", l, n, h)
	}
	if l, n, h := CPUWeightV2("low"), CPUWeightV2("normal"), CPUWeightV2("high"); l*2 != n || n*2 != h || n != 100 {
		t.Errorf("cpu.weight low/normal/high = %d/%d/%d", l, n, h)
	}
	if CPUSharesV1("1") != 2 || CPUSharesV1("1000000") != 262144 {
		t.Errorf("cpu.shares not clamped: %d %d", CPUSharesV1("1"), CPUSharesV1("1000000"))
	}
}

func TestQuota(t *testing.T) {
	h := Host{CPUs: 2, MHz: 2000, Memory: 8 << 30}
	for c, want := range map[vchconfig.CPU]int64{
		{}:                  0,
		{MilliCores: 1000}:  100000,
		{MilliCores: 1500}:  150000,
		{MHz: 1000}:         50000,
		{MHz: 4000}:         200000,
		{MilliCores: 10}:    1000,
		{MHz: 1}:            1000, // the kernel's minimum
		{MilliCores: 2000}:  200000,
		{MilliCores: 20000}: 2000000,
	} {
		if got := h.Quota(c); got != want {
			t.Errorf("Quota(%v) = %d, want %d", c, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	h := Host{CPUs: 2, MHz: 2000, Memory: 8 << 30}
	ok := []vchconfig.Limits{
		{},
		{CPU: vchconfig.CPU{MilliCores: 1000}, CPUReservation: vchconfig.CPU{MHz: 2000}},
		{MemoryMB: 1024, MemoryReservation: 1024},
	}
	for _, l := range ok {
		if err := Validate(l, h); err != nil {
			t.Errorf("Validate(%+v): %v", l, err)
		}
	}
	bad := map[string]vchconfig.Limits{
		"above --cpu":               {CPU: vchconfig.CPU{MilliCores: 1000}, CPUReservation: vchconfig.CPU{MHz: 2500}},
		"more than this host has":   {CPUReservation: vchconfig.CPU{MilliCores: 3000}},
		"above --memory":            {MemoryMB: 512, MemoryReservation: 1024},
		"more than this host has (": {MemoryReservation: 9000},
	}
	for want, l := range bad {
		if err := Validate(l, h); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want %q", l, err, want)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	l := vchconfig.Limits{MemoryMB: 512}
	if err := CheckUsage("v", l, 300<<20); err != nil {
		t.Error(err)
	}
	err := CheckUsage("v", l, 700<<20+1)
	if err == nil || !strings.Contains(err.Error(), "use at least 701MB") {
		t.Errorf("CheckUsage: %v", err)
	}
	if err := CheckUsage("v", vchconfig.Limits{}, 1<<40); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestRowsAndGroupName(t *testing.T) {
	h := Host{CPUs: 2, MHz: 2000}
	rows := Rows(vchconfig.Limits{CPU: vchconfig.CPU{MilliCores: 1000}, MemoryMB: 2048, CPUShares: "high"}, h)
	got := map[string]string{}
	for _, r := range rows {
		got[r[0]] = r[1]
	}
	if got["VCH CPU limit"] != "1core (1.00 cores of 2000 MHz)" || got["VCH memory limit"] != "2048 MB" || got["VCH CPU shares"] != "high (4000)" || got["VCH memory reservation"] != "none" {
		t.Errorf("rows: %v", got)
	}
	a, b := GroupName("x", "/var/lib/vch/x"), GroupName("x", "/tmp/s/x")
	if a == b || !strings.HasPrefix(a, "vch-x-") {
		t.Errorf("group names %q %q", a, b)
	}
}

func TestReadHost(t *testing.T) {
	h, err := ReadHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.CPUs < 1 || h.MHz < 1 || h.Memory < 1<<20 {
		t.Errorf("host %+v", h)
	}
}
