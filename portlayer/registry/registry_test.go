package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/fake"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/registry"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/volume"
	volumefake "github.com/vchproject/vch/portlayer/volume/fake"
)

// fakeStore is an image store the compute opener can see in Env.
type fakeStore struct{ storage.Store }

func reg(log *[]string) *registry.Registry {
	r := registry.New()
	r.Images("local", func(ctx context.Context, env *registry.Env) (storage.Store, error) {
		*log = append(*log, "images")
		env.OnClose(func() error { *log = append(*log, "close images"); return nil })
		return fakeStore{}, nil
	})
	r.Volumes("local", func(ctx context.Context, env *registry.Env) (volume.Provider, error) {
		*log = append(*log, "volumes")
		return volumefake.New(nil), nil
	})
	r.Network("local", func(ctx context.Context, env *registry.Env) (network.Provider, error) {
		*log = append(*log, "network")
		return nil, nil
	})
	r.Compute("qemu", func(ctx context.Context, env *registry.Env) (compute.Provider, error) {
		if env.Images == nil || env.Volumes == nil {
			return nil, errors.New("compute opened before the stores")
		}
		*log = append(*log, "qemu")
		env.OnClose(func() error { *log = append(*log, "close qemu"); return nil })
		return fake.New(), nil
	})
	r.Compute("broken", func(ctx context.Context, env *registry.Env) (compute.Provider, error) {
		return nil, errdefs.Unavailable("no such host")
	})
	return r
}

func TestDefaultsOpenInOrderAndCloseInReverse(t *testing.T) {
	var log []string
	o, err := reg(&log).Open(context.Background(), registry.Names{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Compute == nil || o.Images == nil || o.Volumes == nil || o.Network != nil {
		t.Fatalf("providers %+v", o.Providers)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "images,volumes,network,qemu,close qemu,close images" {
		t.Fatalf("order %s", got)
	}
}

func TestUnknownNamesOpenNothing(t *testing.T) {
	var log []string
	_, err := reg(&log).Open(context.Background(), registry.Names{Compute: "vsphere", Volumes: "nfs"}, nil)
	if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), `unknown compute provider "vsphere": this vchd has broken, qemu`) || !strings.Contains(err.Error(), `"nfs"`) {
		t.Fatalf("unknown names: %v", err)
	}
	if len(log) != 0 {
		t.Fatalf("opened %v before checking names", log)
	}
}

func TestFailedOpenClosesWhatWasOpened(t *testing.T) {
	var log []string
	_, err := reg(&log).Open(context.Background(), registry.Names{Compute: "broken"}, nil)
	if !errdefs.IsUnavailable(err) || !strings.HasPrefix(err.Error(), "compute provider broken: ") {
		t.Fatalf("failed open: %v", err)
	}
	if got := strings.Join(log, ","); got != "images,volumes,network,close images" {
		t.Fatalf("order %s", got)
	}
}

func TestSharedIsMadeOnce(t *testing.T) {
	env := &registry.Env{}
	n := 0
	mk := func() (any, func() error, error) { n++; return n, nil, nil }
	a, _ := env.Shared("s", mk)
	b, _ := env.Shared("s", mk)
	if a != 1 || b != 1 || n != 1 {
		t.Fatalf("shared made %d times (%v, %v)", n, a, b)
	}
}
