package e2e

import (
	"syscall"
	"testing"
)

// Container VMs run detached from vchd: stopping vchd leaves them running,
// and a new vchd re-attaches (ps, logs, stop, exit codes all work).
func TestVCHDRestartKeepsContainers(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c", "echo before; sleep 1000")
	defer docker(t, "rm", "-f", name)
	waitFor(t, func() bool { return docker(t, "logs", name).Stdout == "before\n" })

	signalVCHD(t, env.vchRoot, syscall.SIGTERM)
	if qemuCount(t) == 0 {
		t.Fatal("stopping vchd stopped the container VMs")
	}
	if out, err := vicMachine("start", "--name", env.name); err != nil {
		t.Fatalf("vic-machine start: %v\n%s", err, out)
	}
	st := inspect(t, name)
	if !st.State.Running {
		t.Fatalf("after vchd restart: %+v", st.State)
	}
	if r := docker(t, "logs", name); r.Stdout != "before\n" {
		t.Fatalf("logs after restart: %s", r)
	}
	mustDocker(t, "stop", "-t", "3", name)
	if st := inspect(t, name); st.State.Running || st.State.ExitCode != 143 {
		t.Fatalf("stop after vchd restart: %+v", st.State)
	}
}
