package container

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
)

func TestContainerUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("web", container.Config{Cmd: []string{"sleep"}}, nil)
	resp, err := e.b.ContainerUpdate(ctx, "web", &container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3}})
	if err != nil || len(resp.Warnings) != 0 {
		t.Fatalf("policy update: %+v %v", resp, err)
	}
	if p := e.inspect("web").HostConfig.RestartPolicy; p.Name != container.RestartPolicyOnFailure || p.MaximumRetryCount != 3 {
		t.Fatalf("policy after update: %+v", p)
	}
	e.start("web")
	resp, err = e.b.ContainerUpdate(ctx, "web", &container.UpdateConfig{Resources: container.Resources{Memory: 512 << 20, NanoCPUs: 2e9}})
	if err != nil || len(resp.Warnings) != 1 || resp.Warnings[0] != resizeWarning {
		t.Fatalf("resize of a running container: %+v %v", resp, err)
	}
	c, err := e.pl.Inspect(ctx, id)
	if err != nil || c.Spec.MemoryMB != 512 || c.Spec.CPUs != 2 {
		t.Fatalf("spec after resize: %+v %v", c.Spec, err)
	}
	if hc := e.inspect("web").HostConfig; hc.Memory != 512<<20 || hc.NanoCPUs != 2e9 || hc.RestartPolicy.Name != container.RestartPolicyOnFailure {
		t.Fatalf("host config after resize: %+v", hc.Resources)
	}
	if r, err := e.b.ContainerUpdate(ctx, "web", &container.UpdateConfig{Resources: container.Resources{CPUShares: 512}}); err != nil || len(r.Warnings) != 1 || r.Warnings[0] != sharesWarning {
		t.Fatalf("cpu shares: %+v %v", r, err)
	}
	if hc := e.inspect("web").HostConfig; hc.CPUShares != 512 {
		t.Fatalf("CpuShares after update: %d", hc.CPUShares)
	}
	if _, err := e.b.ContainerUpdate(ctx, "web", &container.UpdateConfig{Resources: container.Resources{CPUQuota: 50000}}); !errdefs.IsNotImplemented(err) {
		t.Fatalf("cpu quota: %v", err)
	}
	if _, err := e.b.ContainerUpdate(ctx, "web", &container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad policy: %v", err)
	}
	e.create("tmp", container.Config{Cmd: []string{"sleep"}}, &container.HostConfig{AutoRemove: true})
	if _, err := e.b.ContainerUpdate(ctx, "tmp", &container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("policy on --rm: %v", err)
	}
}
