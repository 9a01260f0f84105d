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
