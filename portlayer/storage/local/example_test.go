package local_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/local"
	"github.com/vchproject/vch/tests/fixture"
)

// Pull an image from a registry on loopback, boot-ready: the root
// filesystem disk is there to hand to a VM; then remove it.
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(tmp)
	reg, err := fixture.RunRegistry(tmp + "/registry")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	bb, _ := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest")

	store, _ := local.New(tmp+"/images", nil)
	img, err := store.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{
		Progress: func(p storage.Progress) {
			if p.Status == "Pull complete" {
				fmt.Println(p.Status)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("id is the config digest:", img.ID == bb.ID())
	disk, _ := store.RootFS(ctx, img.ID)
	_, err = os.Stat(disk)
	fmt.Println("rootfs disk exists:", err == nil)
	fmt.Println("remove:", store.Remove(ctx, img.ID))
	_, err = store.Get(ctx, img.ID)
	fmt.Println("gone:", errdefs.IsNotFound(err))
	// Output:
	// Pull complete
	// id is the config digest: true
	// rootfs disk exists: true
	// remove: <nil>
	// gone: true
}
