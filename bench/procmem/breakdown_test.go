package procmem

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBreakdown: anonymous pages count as anonymous wherever they are
// mapped; the rest of a mapping's PSS goes by its file.
func TestBreakdown(t *testing.T) {
	data := []byte(`7f0000000000-7f0010000000 rw-p 00000000 fe:00 99   /state/templates/k1/ram
Size:             262144 kB
Rss:               20480 kB
Pss:               10240 kB
Anonymous:          4096 kB
7f1000000000-7f1001000000 rw-p 00000000 00:00 0 
Size:              16384 kB
Rss:               16384 kB
Pss:               16384 kB
Anonymous:         16384 kB
558ff0ef4000-558ff148b000 r-xp 00000000 fe:00 1234   /usr/bin/qemu-system-x86_64
Size:               5724 kB
Rss:                5272 kB
Pss:                2636 kB
Anonymous:             0 kB
558ff148b000-558ff149b000 rw-p 00597000 fe:00 1234   /usr/bin/qemu-system-x86_64
Size:                 64 kB
Rss:                  64 kB
Pss:                  64 kB
Anonymous:            60 kB
7f2000000000-7f2000100000 r-xp 00000000 fe:00 77   /usr/lib/x86_64-linux-gnu/libglib-2.0.so.0.7400.6
Size:               1024 kB
Rss:                 512 kB
Pss:                 100 kB
Anonymous:             0 kB
5590000000-5590100000 rw-p 00000000 00:00 0   [heap]
Size:               1024 kB
Rss:                1000 kB
Pss:                1000 kB
Anonymous:          1000 kB
7f3000000000-7f3000010000 r--p 00000000 fe:00 88   /usr/share/qemu/bios-microvm.bin
Size:                 64 kB
Rss:                  64 kB
Pss:                  32 kB
Anonymous:             0 kB
`)
	isTpl := func(p string) bool { return p == "/state/templates/k1/ram" }
	got := breakdown(parseSmaps(data), "/usr/bin/qemu-system-x86_64", isTpl)
	want := Breakdown{AnonKiB: 4096 + 16384 + 60 + 1000, TemplateKiB: 10240 - 4096, BinaryKiB: 2636 + 4 + 100, OtherKiB: 32}
	if got != want {
		t.Fatalf("breakdown = %+v, want %+v", got, want)
	}
	if got.TotalKiB() != 10240+16384+2636+64+100+1000+32 {
		t.Fatalf("total %d is not the PSS sum", got.TotalKiB())
	}
}

// TestBreakdownSelf: this process's breakdown adds up to its PSS and has
// an executable part.
func TestBreakdownSelf(t *testing.T) {
	b, err := BreakdownOf([]int{os.Getpid()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.BinaryKiB == 0 || b.AnonKiB == 0 || b.TemplateKiB != 0 {
		t.Fatalf("breakdown of the test process = %+v", b)
	}
}

// TestResident: a file just written to tmpfs is resident whole; an empty
// one has nothing resident.
func TestResident(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "procmem-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, make([]byte, 3*os.Getpagesize()+1), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Resident(path)
	if err != nil || n != int64(4*os.Getpagesize()) {
		t.Fatalf("Resident = %d, %v; want 4 pages", n, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := Resident(path); err != nil || n != 0 {
		t.Fatalf("Resident(empty) = %d, %v", n, err)
	}
}
