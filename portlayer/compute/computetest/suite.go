package computetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

// Factory returns a provider for t (see the package comment).
type Factory func(t *testing.T) compute.Provider

// Option adjusts the suite to a provider's abilities.
type Option func(*suite)

// WithoutDisks skips the writable-layer test (CmdPersist).
func WithoutDisks() Option { return func(s *suite) { s.disks = false } }

// WithoutRestart skips the provider restart test.
func WithoutRestart() Option { return func(s *suite) { s.restart = false } }

// WithoutProcess names the cases a provider cannot pass yet because
// they need a process in the VM (the provider has no tether transport);
// each is skipped with reason, so the gap shows in every -v run.
func WithoutProcess(reason string, names ...string) Option {
	return func(s *suite) {
		if s.without == nil {
			s.without = map[string]string{}
		}
		for _, n := range names {
			s.without[n] = reason
		}
	}
}

// Without names the cases a provider cannot pass by design (not a gap
// to close): each is skipped with "provider opted out of NAME: reason",
// so the reason shows in every -v run.
func Without(reason string, names ...string) Option {
	return func(s *suite) {
		if s.optOut == nil {
			s.optOut = map[string]string{}
		}
		for _, n := range names {
			s.optOut[n] = reason
		}
	}
}

// WithTimeout bounds each subtest (default 5 minutes), so a hung provider
// fails instead of blocking the test binary.
func WithTimeout(d time.Duration) Option { return func(s *suite) { s.timeout = d } }

type suite struct {
	factory Factory
	image   string
	disks   bool
	restart bool
	timeout time.Duration
	volume  string            // see WithVolume
	without map[string]string // case name -> reason (see WithoutProcess)
	optOut  map[string]string // case name -> reason (see Without)
}

// Run runs the conformance suite against the providers factory makes.
// image is an image ID the provider can boot (busybox in PATH).
func Run(t *testing.T, factory Factory, image string, opts ...Option) {
	s := &suite{factory: factory, image: image, disks: true, restart: true, timeout: 5 * time.Minute}
	for _, o := range opts {
		o(s)
	}
	tests := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, p compute.Provider)
		skip bool
	}{
		{"CreateInspectList", s.createInspectList, false},
		{"CreateDuplicate", s.createDuplicate, false},
		{"CreateInvalid", s.createInvalid, false},
		{"UnknownID", s.unknownID, false},
		{"ExitCode", s.exitCode, false},
		{"StartRunning", s.startRunning, false},
		{"StartFailure", s.startFailure, false},
		{"LogsSeparateStreams", s.logsSeparateStreams, false},
		{"LogsTail", s.logsTail, false},
		{"LogsFollow", s.logsFollow, false},
		{"AttachBeforeStart", s.attachBeforeStart, false},
		{"AttachRunning", s.attachRunning, false},
		{"SignalTerm", s.signalTerm, false},
		{"Kill", s.kill, false},
		{"Resize", s.resize, false},
		{"WaitConditions", s.waitConditions, false},
		{"RemoveRunning", s.removeRunning, false},
		{"ExecStreams", s.execStreams, false},
		{"ExecStdin", s.execStdin, false},
		{"ExecIdentity", s.execIdentity, false},
		{"ExecTTY", s.execTTY, false},
		{"ExecSignal", s.execSignal, false},
		{"ExecBig", s.execBig, false},
		{"ExecErrors", s.execErrors, false},
		{"PauseUnpause", s.pauseUnpause, false},
		{"Top", s.top, false},
		{"Stats", s.stats, false},
		{"Resources", s.resources, false},
		{"Archive", s.archive, false},
		{"WritableLayerKept", s.writableLayerKept, !s.disks},
		{"Restart", s.restartProvider, !s.restart},
		{"VolumeShared", s.volumeShared, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("provider opted out of " + tc.name)
			}
			if why, ok := s.optOut[tc.name]; ok {
				t.Skip("provider opted out of " + tc.name + ": " + why)
			}
			if why, ok := s.without[tc.name]; ok {
				t.Skip("not supported by this provider yet: " + why)
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			defer cancel()
			tc.fn(ctx, t, s.factory(t))
		})
	}
}

// RootPerTest turns open(t, root) into a Factory: the first call for a t
// gets a new temporary root, later calls for the same t (restarts) get
// the same root.
func RootPerTest(open func(t *testing.T, root string) compute.Provider) Factory {
	var mu sync.Mutex
	roots := map[*testing.T]string{}
	return func(t *testing.T) compute.Provider {
		mu.Lock()
		root, ok := roots[t]
		if !ok {
			root = t.TempDir()
			roots[t] = root
		}
		mu.Unlock()
		return open(t, root)
	}
}

// newID returns a fresh container id.
func newID(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (s *suite) spec(t *testing.T, args []string) compute.Spec {
	return compute.Spec{
		ID:       newID(t),
		Image:    s.image,
		Hostname: "suite",
		Process:  compute.Process{Args: append([]string(nil), args...), Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		Meta:     []byte(`{"name":"suite"}`),
	}
}

// create makes a container running args and returns its id.
func (s *suite) create(ctx context.Context, t *testing.T, p compute.Provider, args []string, edit ...func(*compute.Spec)) string {
	t.Helper()
	spec := s.spec(t, args)
	for _, e := range edit {
		e(&spec)
	}
	if err := p.Create(ctx, spec); err != nil {
		t.Fatalf("create %v: %v", args, err)
	}
	return spec.ID
}

// run starts id and waits for the end of that run. Start returns once the
// process runs (or ran), so WaitNotRunning after it sees this run's end.
func run(ctx context.Context, t *testing.T, p compute.Provider, id string) compute.Status {
	t.Helper()
	startOK(ctx, t, p, id)
	return waitFor(ctx, t, p, id, compute.WaitNotRunning)
}

// waiterCounter is implemented by providers that can tell how many Wait
// calls are blocked on a container; the suite uses it to order a Wait
// before the event it waits for without sleeping.
type waiterCounter interface {
	Waiters(id string) int
}

// awaitWaiters returns once n Wait calls are blocked on id, if p can tell.
func awaitWaiters(ctx context.Context, t *testing.T, p compute.Provider, id string, n int) {
	t.Helper()
	wc, ok := p.(waiterCounter)
	if !ok {
		t.Logf("provider cannot count waiters: Wait/event ordering is best effort")
		time.Sleep(50 * time.Millisecond)
		return
	}
	for wc.Waiters(id) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d waiters never blocked on %s: %v", n, id, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func startOK(ctx context.Context, t *testing.T, p compute.Provider, id string) {
	t.Helper()
	if err := p.Start(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
}

func waitFor(ctx context.Context, t *testing.T, p compute.Provider, id string, cond compute.WaitCondition) compute.Status {
	t.Helper()
	st, err := p.Wait(ctx, id, cond)
	if err != nil {
		t.Fatalf("wait %d: %v", cond, err)
	}
	return st
}

func inspect(ctx context.Context, t *testing.T, p compute.Provider, id string) compute.Container {
	t.Helper()
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return c
}

// logs collects all kept output of id per stream.
func logs(ctx context.Context, t *testing.T, p compute.Provider, id string, opts compute.LogOptions) (stdout, stderr string, n int) {
	t.Helper()
	ch, err := p.Logs(ctx, id, opts)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	for e := range ch {
		n++
		switch e.Stream {
		case "stdout":
			stdout += string(e.Data)
		case "stderr":
			stderr += string(e.Data)
		default:
			t.Fatalf("log entry of stream %q", e.Stream)
		}
	}
	return stdout, stderr, n
}
