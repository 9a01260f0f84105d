package system

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/backends/internal/fakestore"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

func TestInfoAndVersion(t *testing.T) {
	ctx := context.Background()
	pl := fake.New()
	t.Cleanup(func() {
		if err := pl.Close(); err != nil {
			t.Error(err)
		}
	})
	store := fakestore.New()
	store.Local(fakestore.Image(map[string]string{"os": "linux"}, time.Time{}, 10))
	for i, args := range [][]string{{"sleep"}, {"true"}, {"true"}} {
		id := strings.Repeat(string(rune('a'+i)), 64)
		if err := pl.Create(ctx, compute.Spec{ID: id, Process: compute.Process{Args: args}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := pl.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := New(Config{ID: "X", Name: "vch1", Root: "/var/lib/vch", Version: "0.1.0", GitCommit: "abc", APIVersion: "1.45", MinAPIVersion: "1.24", Containers: pl, Images: store})
	info, err := b.SystemInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "vch1" || info.Containers != 3 || info.ContainersRunning != 1 || info.ContainersStopped != 2 || info.Images != 1 ||
		info.Driver != "vch" || info.OSType != "linux" || info.NCPU != runtime.NumCPU() || info.MemTotal <= 0 || info.KernelVersion == "" ||
		info.ServerVersion != "0.1.0" || info.DockerRootDir != "/var/lib/vch" || info.DefaultRuntime != "qemu" || info.Runtimes["qemu"].Path != "qemu" {
		t.Fatalf("info %+v", info)
	}
	raw, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"InsecureRegistryCIDRs":["127.0.0.0/8"]`, `"Warnings":[]`, `"SecurityOptions":[]`, `"Labels":[]`, `"Architecture":"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("info JSON lacks %s", want)
		}
	}
	v, err := b.SystemVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "0.1.0" || v.APIVersion != "1.45" || v.MinAPIVersion != "1.24" || v.GitCommit != "abc" || v.Os != runtime.GOOS ||
		len(v.Components) != 1 || v.Components[0].Name != "Engine" || v.Components[0].Details["ApiVersion"] != "1.45" {
		t.Fatalf("version %+v", v)
	}
}
