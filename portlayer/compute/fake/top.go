package fake

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// Top implements compute.Topper: the main process as `ps -ef` shows it
// (any other options are refused).
func (p *Provider) Top(_ context.Context, id string, psArgs []string) (compute.TopResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return compute.TopResult{}, err
	}
	if v.run == nil {
		return compute.TopResult{}, notRunning(id)
	}
	if v.c.Status.Paused {
		return compute.TopResult{}, pausedError(id)
	}
	if len(psArgs) > 0 && (len(psArgs) != 1 || psArgs[0] != "-ef") {
		return compute.TopResult{}, errdefs.InvalidParameter(fmt.Sprintf("ps: unsupported options %q", psArgs))
	}
	proc := v.c.Spec.Process
	user := proc.User
	if user == "" {
		user = "root"
	}
	return compute.TopResult{
		Titles:    []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"},
		Processes: [][]string{{user, strconv.Itoa(v.c.Status.Pid), "1", "0", "00:00", "?", "00:00:00", strings.Join(proc.Args, " ")}},
	}, nil
}
