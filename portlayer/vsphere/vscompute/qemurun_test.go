package vscompute_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
)

// TestQEMUHostRunsAContainer: the vSphere path end to end with a real
// guest: a container VM made by vscompute (busybox's ext4 root as the
// writable layer's parent, the bootstrap ISO, the serial ports) boots
// under vsimtest.QEMUHost; its tether (PID 1 from the ISO, its config
// from guestinfo over fw_cfg, its root the SCSI disk guestinfo.vch.disks
// names) answers the concentrator's probes on ttyS1 and ttyS2, so Start
// returns on the tether's process-started event; an exec runs over the
// control channel (its output and exit code), the process's output
// reaches the logs with its streams apart, its exit code comes back
// through Wait, and a docker cp from the exited container boots the VM
// for maintenance and reads the file the process wrote in its writable
// layer. (It boots a VM under TCG: hold the VM lock.)
func TestQEMUHostRunsAContainer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := newQEMUEnv(ctx, t, "vsrun")
	p := e.p
	id := hexID('3')
	// A new volume: its VMDK is blank, and the tether makes its file
	// system before mounting it.
	if _, err := e.vols.Create(ctx, volume.CreateOptions{Name: "rundata", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	s := compute.Spec{ID: id, Name: "vsrun", Image: e.image, Process: compute.Process{
		Args: []string{"sh", "-c", "echo hello from the VM; echo oops >&2; echo kept > /root/mark; echo on the volume > /data/v; sync; while [ ! -e /tmp/go ]; do sleep 0.2; done; exit 7"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}, Mounts: []compute.Mount{{Volume: "rundata", Path: "/data"}}}
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			if console, err := e.host.HostPath(ctx, "[LocalDS_0] vsrun/"+vscompute.ConsoleFile); err == nil {
				b, _ := os.ReadFile(console)
				t.Logf("console:\n%s", b)
			}
		}
		_ = p.Kill(context.WithoutCancel(ctx), id)
		if err := p.Remove(context.WithoutCancel(ctx), id); err != nil {
			t.Error(err)
		}
	}()
	t0 := time.Now()
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Logf("start (power on to the tether's process-started under TCG): %s", time.Since(t0))
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateRunning || c.Status.Pid == 0 {
		t.Fatalf("status after start %+v", c.Status)
	}

	var out, errOut bytes.Buffer
	proc, err := p.Exec(ctx, id, compute.ExecConfig{Args: []string{"sh", "-c", "cat /etc/hostname; echo exec-err >&2; touch /tmp/go; exit 5"},
		Env: s.Process.Env, Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	code, err := proc.Wait(ctx)
	if err != nil || code != 5 || out.String() != id[:12]+"\n" || errOut.String() != "exec-err\n" {
		t.Fatalf("exec: code %d %v, stdout %q, stderr %q", code, err, out.String(), errOut.String())
	}

	st, err := p.Wait(ctx, id, compute.WaitNotRunning)
	if err != nil || st.ExitCode != 7 {
		t.Fatalf("wait: %+v %v, want exit 7", st, err)
	}
	logs, err := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	streams := map[string]string{}
	for le := range logs {
		streams[le.Stream] += string(le.Data)
	}
	if streams["stdout"] != "hello from the VM\n" || streams["stderr"] != "oops\n" {
		t.Fatalf("logs %q", streams)
	}

	// docker cp from the exited container: a maintenance boot of the VM,
	// whose writable layer (the host's qcow2 overlay) kept the file.
	var tarball bytes.Buffer
	var stat compute.PathStat
	if err := p.ArchiveGet(ctx, id, "/root/mark", func(st compute.PathStat) (io.Writer, error) {
		stat = st
		return &tarball, nil
	}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&tarball)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil || h.Name != "mark" || string(b) != "kept\n" || stat.Size != 5 {
		t.Fatalf("archive of /root/mark: %q %q %v, stat %+v", h.Name, b, err, stat)
	}
	// The volume's file, through the same maintenance boot's volume mount.
	tarball.Reset()
	if err := p.ArchiveGet(ctx, id, "/data/v", func(compute.PathStat) (io.Writer, error) { return &tarball, nil }); err != nil {
		t.Fatal(err)
	}
	tr = tar.NewReader(&tarball)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(tr); err != nil || string(b) != "on the volume\n" {
		t.Fatalf("archive of /data/v: %q %v", b, err)
	}
	if c, err := p.Inspect(ctx, id); err != nil || c.Status.State != compute.StateExited || c.Status.ExitCode != 7 {
		t.Fatalf("after the copy: %+v %v, want still exited 7", c.Status, err)
	}
	if n := e.host.Boots("vsrun"); n != 3 {
		t.Fatalf("%d boots, want the run's and one per copy", n)
	}
}
