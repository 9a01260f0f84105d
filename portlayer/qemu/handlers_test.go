package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
)

func TestHandlerListEdits(t *testing.T) {
	noop := func(context.Context, *Boot) error { return nil }
	l := NewHandlerList(Handler{"a", noop}, Handler{"b", noop}, Handler{"c", noop})
	for _, tc := range []struct {
		name string
		got  HandlerList
		want []string
	}{
		{"unchanged", l, []string{"a", "b", "c"}},
		{"append", l.Append(Handler{"d", noop}), []string{"a", "b", "c", "d"}},
		{"insert after", l.InsertAfter("a", Handler{"x", noop}), []string{"a", "x", "b", "c"}},
		{"insert after missing", l.InsertAfter("zz", Handler{"x", noop}), []string{"a", "b", "c", "x"}},
		{"remove", l.Remove("b"), []string{"a", "c"}},
		{"swap keeps place", l.Swap(Handler{"b", noop}), []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got.Names(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("names %v, want %v", got, tc.want)
			}
		})
	}
	if got := (&Provider{}).DefaultHandlers().Names(); !reflect.DeepEqual(got, []string{StepImage, StepVolumes, StepNetwork, StepConfigDisk, StepLaunch, StepAwaitTether}) {
		t.Fatalf("default steps %v", got)
	}
}

// fakeRunner records launches; its processes run until killed.
type fakeRunner struct {
	mu    sync.Mutex
	specs []ProcessSpec
	procs []*fakeProc
}

func (r *fakeRunner) Start(spec ProcessSpec) (Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &fakeProc{pid: 4000 + len(r.procs), done: make(chan struct{})}
	r.specs = append(r.specs, spec)
	r.procs = append(r.procs, p)
	// Stand-ins for what QEMU creates in the container directory.
	for _, f := range []string{fileCtl, fileQMP, filePid} {
		if err := os.WriteFile(filepath.Join(spec.Dir, f), nil, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

type fakeProc struct {
	pid    int
	once   sync.Once
	done   chan struct{}
	killed bool
}

func (p *fakeProc) Pid() int { return p.pid }
func (p *fakeProc) Wait()    { <-p.done }
func (p *fakeProc) Kill() error {
	p.once.Do(func() { p.killed = true; close(p.done) })
	return nil
}

// unitProvider is a Provider whose VMs never boot: unit tests swap steps.
func unitProvider(t *testing.T, opts ...Option) (*Provider, string) {
	t.Helper()
	return unitProviderAt(t, filepath.Join(t.TempDir(), "root"), opts...)
}

// unitProviderAt is unitProvider over an existing root.
func unitProviderAt(t *testing.T, root string, opts ...Option) (*Provider, string) {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "image.ext4")
	if err := os.WriteFile(disk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Root: root, Kernel: "/nonexistent/vmlinuz", Initrd: "/nonexistent/initrd",
		Images: images{testImage: disk}, Logger: zaptest.NewLogger(t),
		DiskSize: 16 << 20, Accel: AccelTCG, TSCkHz: 1000000,
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p, root
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

const unitID = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

func TestStartUndoWhenLaunchFails(t *testing.T) {
	errLaunch := errors.New("launch refused")
	p, root := unitProvider(t, WithHandlers(func(l HandlerList) HandlerList {
		return l.Swap(Handler{Name: StepLaunch, Fn: func(context.Context, *Boot) error { return errLaunch }})
	}))
	ctx := context.Background()
	if err := p.Create(ctx, compute.Spec{ID: unitID, Image: testImage, Process: compute.Process{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, unitID); !errors.Is(err, errLaunch) {
		t.Fatalf("start: %v, want the launch step's error", err)
	}
	// The config disk written by the step before launch is gone again;
	// the image pin made at create stays.
	if got, want := listDir(t, filepath.Join(root, unitID)), []string{fileImagePin, fileRW, fileSpec, fileStatus}; !reflect.DeepEqual(got, want) {
		t.Fatalf("container dir after a failed start %v, want %v", got, want)
	}
	c, err := p.Inspect(ctx, unitID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateCreated || c.Status.Error != errLaunch.Error() {
		t.Fatalf("status after a failed start %+v", c.Status)
	}
	// Nothing is left that blocks removal.
	if err := p.Remove(ctx, unitID); err != nil {
		t.Fatal(err)
	}
}

func TestStartUndoKillsLaunchedVM(t *testing.T) {
	runner := &fakeRunner{}
	errTether := errors.New("tether silent")
	p, root := unitProvider(t, WithRunner(runner), WithHandlers(func(l HandlerList) HandlerList {
		return l.Swap(Handler{Name: StepAwaitTether, Fn: func(context.Context, *Boot) error { return errTether }})
	}))
	ctx := context.Background()
	spec := compute.Spec{ID: unitID, Image: testImage, CPUs: 2, Process: compute.Process{Args: []string{"true"}}}
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, unitID); !errors.Is(err, errTether) {
		t.Fatalf("start: %v", err)
	}
	dir := filepath.Join(root, unitID)
	if len(runner.procs) != 1 || !runner.procs[0].killed {
		t.Fatalf("launched %d processes; the failed start must kill its VM", len(runner.procs))
	}
	if s := runner.specs[0]; s.Path != DefaultQEMU || s.Dir != dir || s.Output != filepath.Join(dir, fileQEMUOut) {
		t.Fatalf("launch spec %+v", s)
	}
	if got, want := listDir(t, dir), []string{fileImagePin, fileRW, fileSpec, fileStatus}; !reflect.DeepEqual(got, want) {
		t.Fatalf("container dir after a failed start %v, want %v", got, want)
	}
	c, _ := p.Inspect(ctx, unitID)
	if c.Status.State != compute.StateExited || c.Status.ExitCode != 137 || c.Status.Pid != 0 {
		t.Fatalf("status after a killed boot %+v", c.Status)
	}
	names := []string{}
	for _, s := range c.Status.Boot {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, []string{"launch", "vm-exited"}) {
		t.Fatalf("boot steps %v", names)
	}
	// The persisted status agrees with memory.
	_, rec, err := loadContainer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != compute.StateExited || rec.Launched || rec.HostKey != "" {
		t.Fatalf("persisted record %+v", rec)
	}
}
