package computetest_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

// TestFake runs the suite against the in-memory provider, teaching its sh
// the suite's scripts; it keeps the suite honest without booting VMs.
func TestFake(t *testing.T) {
	computetest.Run(t, func(t *testing.T) compute.Provider {
		p := fake.New()
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		builtinSh := p.Programs["sh"]
		vol := &sharedFiles{files: map[string]bool{}}
		p.Programs["sh"] = func(proc *fake.Proc) int {
			switch strings.Join(proc.Args, " ") {
			case strings.Join(computetest.CmdShareFirst, " "):
				vol.put("one")
				if !vol.await("two", proc.Killed) {
					return 137
				}
				io.WriteString(proc.Stdout, "two\n")
				return 0
			case strings.Join(computetest.CmdShareSecond, " "):
				if !vol.await("one", proc.Killed) {
					return 137
				}
				io.WriteString(proc.Stdout, "one\n")
				vol.put("two")
				return 0
			case strings.Join(computetest.CmdOutErr, " "):
				io.WriteString(proc.Stdout, "out\n")
				io.WriteString(proc.Stderr, "err\n")
				return 0
			case strings.Join(computetest.CmdCount, " "):
				io.WriteString(proc.Stdout, "1\n2\n3\n")
				return 0
			case strings.Join(computetest.CmdExecIdentity, " "):
				val := ""
				for _, kv := range proc.Env {
					if v, ok := strings.CutPrefix(kv, "VCH_SUITE="); ok {
						val = v
					}
				}
				fmt.Fprintf(proc.Stdout, "%s %s %s\n", val, proc.Dir, proc.User)
				return 0
			case strings.Join(computetest.CmdExecSize, " "):
				h, w := proc.Size()
				fmt.Fprintf(proc.Stdout, "%d %d\r\n", h, w)
				if _, err := bufio.NewReader(proc.Stdin).ReadString('\n'); err != nil {
					return 1
				}
				h, w = proc.Size()
				fmt.Fprintf(proc.Stdout, "%d %d\r\n", h, w)
				return 0
			case strings.Join(computetest.CmdExecBig, " "):
				proc.Stdout.Write(make([]byte, computetest.ExecBigSize))
				return 0
			}
			return builtinSh(proc)
		}
		return p
	}, "sha256:fake", computetest.WithoutDisks(), computetest.WithoutRestart(), computetest.WithVolume("suite-vol"))
}

func TestFakeNetwork(t *testing.T) {
	computetest.RunNetwork(t, func(t *testing.T, na compute.NetworkAttacher) compute.Provider {
		p := fake.New()
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		p.Network = na
		return p
	}, "sha256:fake")
}

// sharedFiles stands for the suite's shared volume in the fake's sh.
type sharedFiles struct {
	mu    sync.Mutex
	files map[string]bool
}

func (s *sharedFiles) put(name string) {
	s.mu.Lock()
	s.files[name] = true
	s.mu.Unlock()
}

// await polls for name as the suite's script does (every 0.2 s).
func (s *sharedFiles) await(name string, killed <-chan struct{}) bool {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		ok := s.files[name]
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-killed:
			return false
		case <-tick.C:
		}
	}
}
