package qemu

import (
	"reflect"
	"strings"
	"testing"
)

func TestQEMUArgs(t *testing.T) {
	base := launchSpec{
		TBSizeMB: 64, CPUs: 2, MemoryMB: 300,
		Kernel: "/k/vmlinuz", Initrd: "/k/initrd", TSCkHz: 2096019,
		Image: "/images/a,b.ext4", RW: "rw.ext4", Config: "config.img",
		Ctl: "ctl.sock", QMP: "qmp.sock", PidFile: "qemu.pid", Console: "console.log", Log: "output.log",
	}
	tcg := base
	tcg.Accel = AccelTCG
	got := qemuArgs(tcg)
	want := []string{
		"-name", "vch",
		"-accel", "tcg,tb-size=64", "-cpu", "max",
		"-M", "microvm", "-m", "300", "-smp", "2",
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-kernel", "/k/vmlinuz", "-initrd", "/k/initrd",
		"-append", "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2096019 no_timer_check",
		"-serial", "file:console.log",
		"-pidfile", "qemu.pid",
		"-qmp", "unix:qmp.sock,server=on,wait=off",
		"-drive", "if=none,id=image,file=/images/a,,b.ext4,format=raw,readonly=on",
		"-device", "virtio-blk-device,drive=image,serial=vch-image",
		"-drive", "if=none,id=rw,file=rw.ext4,format=raw,readonly=off",
		"-device", "virtio-blk-device,drive=rw,serial=vch-rw",
		"-drive", "if=none,id=config,file=config.img,format=raw,readonly=on",
		"-device", "virtio-blk-device,drive=config,serial=vch-config",
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=ctl,path=ctl.sock,server=on,wait=off",
		"-device", "virtserialport,chardev=ctl,name=tether",
		"-chardev", "file,id=log,path=output.log,append=on",
		"-device", "virtserialport,chardev=log,name=log",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tcg args:\n got %q\nwant %q", got, want)
	}

	kvm := base
	kvm.Accel = AccelKVM
	kvm.TSCkHz = 0
	got = qemuArgs(kvm)
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "-accel kvm -cpu host") || strings.Contains(joined, "tb-size") {
		t.Fatalf("kvm args: %q", got)
	}
	if strings.Contains(joined, "tsc_early_khz") {
		t.Fatalf("unknown TSC frequency must not be passed: %q", joined)
	}

	extra := tcg
	extra.TBSizeMB = -1
	extra.Extra = []string{"pci=off", "loglevel=7"}
	joined = strings.Join(qemuArgs(extra), " ")
	if !strings.Contains(joined, "-accel tcg -cpu max") {
		t.Fatalf("QEMU's own TB size must not be capped: %q", joined)
	}
	if !strings.Contains(joined, "no_timer_check pci=off loglevel=7 -serial") {
		t.Fatalf("extra kernel arguments not appended: %q", joined)
	}
}

func TestQEMUArgsMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    launchSpec
		want    []string // must appear, in order, as consecutive arguments
		without string
	}{
		{"anon", launchSpec{MemoryMB: 256, GuestMemory: GuestMemoryAnon},
			[]string{"-M", "microvm", "-m", "256"}, "memory-backend"},
		{"empty is anon", launchSpec{MemoryMB: 256},
			[]string{"-M", "microvm", "-m", "256"}, "memory-backend"},
		{"memfd", launchSpec{MemoryMB: 300, GuestMemory: GuestMemoryMemfd},
			[]string{"-object", "memory-backend-memfd,id=mem,size=300M,share=off"}, "virtio-balloon"},
		{"memfd machine", launchSpec{MemoryMB: 300, GuestMemory: GuestMemoryMemfd},
			[]string{"-M", "microvm,memory-backend=mem", "-m", "300"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := qemuArgs(tc.spec)
			joined := "\x00" + strings.Join(args, "\x00") + "\x00"
			if !strings.Contains(joined, "\x00"+strings.Join(tc.want, "\x00")+"\x00") {
				t.Fatalf("%q not in %q", tc.want, args)
			}
			if tc.without != "" && strings.Contains(joined, tc.without) {
				t.Fatalf("%q in %q", tc.without, args)
			}
		})
	}
}

func TestConfigGuestMemory(t *testing.T) {
	base := Config{Root: "/r", Kernel: "/k", Initrd: "/i", Images: images{}}
	c := base
	if err := c.setDefaults(); err != nil || c.GuestMemory != DefaultGuestMemory {
		t.Fatalf("default: %v %q", err, c.GuestMemory)
	}
	c = base
	c.GuestMemory = "hugetlb"
	if err := c.setDefaults(); err == nil {
		t.Fatal("unknown guest memory accepted")
	}
}

// A container name convention names the VM and the QEMU process.
func TestQEMUArgsVMName(t *testing.T) {
	args := qemuArgs(launchSpec{Accel: AccelTCG, Name: safeVMName("myteam-web,x")})
	if args[0] != "-name" || args[1] != "guest=myteam-web-x,process=myteam-web-x" {
		t.Fatalf("name args %q", args[:2])
	}
	if args := qemuArgs(launchSpec{Accel: AccelTCG}); args[1] != "vch" {
		t.Fatalf("default name %q", args[1])
	}
}
