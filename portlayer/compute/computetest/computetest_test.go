package computetest_test

import (
	"io"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
	"github.com/vchproject/vch/portlayer/compute/fake"
)

// TestFake runs the suite against the in-memory provider, teaching its sh
// the suite's scripts; it keeps the suite honest without booting VMs.
func TestFake(t *testing.T) {
	computetest.Run(t, func(t *testing.T) compute.Provider {
		p := fake.New()
		builtinSh := p.Programs["sh"]
		p.Programs["sh"] = func(proc *fake.Proc) int {
			switch strings.Join(proc.Args, " ") {
			case strings.Join(computetest.CmdOutErr, " "):
				io.WriteString(proc.Stdout, "out\n")
				io.WriteString(proc.Stderr, "err\n")
				return 0
			case strings.Join(computetest.CmdCount, " "):
				io.WriteString(proc.Stdout, "1\n2\n3\n")
				return 0
			}
			return builtinSh(proc)
		}
		return p
	}, "sha256:fake", computetest.WithoutDisks(), computetest.WithoutRestart())
}

func TestFakeNetwork(t *testing.T) {
	computetest.RunNetwork(t, func(t *testing.T, na compute.NetworkAttacher) compute.Provider {
		p := fake.New()
		p.Network = na
		return p
	}, "sha256:fake")
}
