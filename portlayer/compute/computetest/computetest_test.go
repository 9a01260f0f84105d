package computetest_test

import (
	"bufio"
	"fmt"
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
		p.Network = na
		return p
	}, "sha256:fake")
}
