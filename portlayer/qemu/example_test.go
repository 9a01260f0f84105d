package qemu_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/qemu"
)

// Example walks one container VM through its lifecycle: create, attach
// before start (as docker run does), start, wait, remove. It boots a real
// VM (see VMAssets in export_test.go for what the machine needs).
func Example() {
	kernel, initrd, images := qemu.VMAssets()
	root, _ := os.MkdirTemp("", "vch-example-")
	defer os.RemoveAll(root)
	p, err := qemu.New(qemu.Config{Root: root, Kernel: kernel, Initrd: initrd, Images: images, MemoryMB: 256, DiskSize: 64 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx := context.Background()
	id := "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"
	err = p.Create(ctx, compute.Spec{ID: id, Image: qemu.BusyboxImage, Process: compute.Process{
		Args: []string{"sh", "-c", "echo hello from $(hostname); exit 7"},
	}, Hostname: "vm1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	attached := make(chan error)
	go func() {
		attached <- p.Attach(ctx, id, compute.AttachOptions{Stdout: os.Stdout, Stderr: os.Stdout, Stream: true})
	}()
	if err := p.Start(ctx, id); err != nil {
		fmt.Println(err)
		return
	}
	<-attached
	st, _ := p.Wait(ctx, id, compute.WaitNotRunning)
	fmt.Println(st.State, st.ExitCode)
	fmt.Println(p.Remove(ctx, id))
	// Output:
	// hello from vm1
	// exited 7
	// <nil>
}
