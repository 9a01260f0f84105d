package qemu

import (
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func TestValidateMounts(t *testing.T) {
	many := make([]compute.Mount, MaxVolumes+1)
	for i := range many {
		many[i] = compute.Mount{Volume: "v" + string(rune('a'+i)), Path: "/m/" + string(rune('a'+i))}
	}
	for _, tc := range []struct {
		name string
		spec compute.Spec
		ok   bool
	}{
		{"none", compute.Spec{}, true},
		{"one volume at two paths", compute.Spec{Mounts: []compute.Mount{{Volume: "v1", Path: "/a"}, {Volume: "v1", Path: "/b"}}}, true},
		{"relative", compute.Spec{Mounts: []compute.Mount{{Volume: "v1", Path: "a"}}}, false},
		{"root", compute.Spec{Tmpfs: []compute.Tmpfs{{Path: "/"}}}, false},
		{"bind", compute.Spec{Mounts: []compute.Mount{{Source: "/host/dir", Path: "/a"}}}, true},
		{"bind relative", compute.Spec{Mounts: []compute.Mount{{Source: "host", Path: "/a"}}}, false},
		{"bind and volume", compute.Spec{Mounts: []compute.Mount{{Source: "/h", Volume: "v1", Path: "/a"}}}, false},
		{"duplicate", compute.Spec{Mounts: []compute.Mount{{Volume: "v1", Path: "/a"}}, Tmpfs: []compute.Tmpfs{{Path: "/a/"}}}, false},
		{"no name", compute.Spec{Mounts: []compute.Mount{{Path: "/a"}}}, false},
		{"too many", compute.Spec{Mounts: many}, false},
	} {
		err := validateMounts(tc.spec)
		if tc.ok != (err == nil) || (err != nil && !errdefs.IsInvalidParameter(err)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestVolumeDisksOnCommandLine(t *testing.T) {
	args := strings.Join(qemuArgs(launchSpec{Image: "i", RW: "rw", Config: "c",
		Volumes: []volumeDisk{{Path: "/s/a,b/disk.ext4", Serial: "vch-vol-0"}, {Path: "/s/x/disk.ext4", Serial: "vch-vol-1"}}}), " ")
	for _, want := range []string{
		"if=none,id=vol0,file=/s/a,,b/disk.ext4,format=raw,readonly=off",
		"virtio-blk-device,drive=vol0,serial=vch-vol-0",
		"virtio-blk-device,drive=vol1,serial=vch-vol-1",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("command line lacks %q:\n%s", want, args)
		}
	}
}

// Shares get one vhost-user-fs device each, modern virtio-mmio and guest
// RAM on a shared memfd (virtiofsd maps it).
func TestSharesOnCommandLine(t *testing.T) {
	args := strings.Join(qemuArgs(launchSpec{Image: "i", RW: "rw", Config: "c", MemoryMB: 512,
		Shares: []fsShare{{Dir: "/s/a", Tag: "vch-fs-0", Socket: "vfs-0.sock"}, {Dir: "/h", Tag: "vch-fs-1", Socket: "vfs-1.sock"}}}), " ")
	for _, want := range []string{
		"-M microvm,memory-backend=mem",
		"-object memory-backend-memfd,id=mem,size=512M,share=on",
		"-global virtio-mmio.force-legacy=false",
		"-chardev socket,id=fs0,path=vfs-0.sock -device vhost-user-fs-device,chardev=fs0,tag=vch-fs-0",
		"-chardev socket,id=fs1,path=vfs-1.sock -device vhost-user-fs-device,chardev=fs1,tag=vch-fs-1",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("command line lacks %q:\n%s", want, args)
		}
	}
	plain := strings.Join(qemuArgs(launchSpec{Image: "i", RW: "rw", Config: "c", MemoryMB: 512}), " ")
	if strings.Contains(plain, "force-legacy") || strings.Contains(plain, "share=on") {
		t.Errorf("a VM without shares got share arguments: %s", plain)
	}
}
