package qemu

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/compute"
)

// recover loads every container under Root. VMs whose QEMU still runs get
// a monitor again; VMs that died while nobody watched are marked exited
// with the exit code their log holds (137 if none).
func (p *Provider) recover() error {
	entries, err := os.ReadDir(p.cfg.Root)
	if err != nil {
		return fmt.Errorf("qemu provider root: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(p.cfg.Root, e.Name())
		spec, rec, err := loadContainer(dir)
		if err != nil {
			p.log.Warn("skip unreadable container", zap.String("dir", dir), zap.Error(err))
			continue
		}
		v := &vm{id: e.Name(), dir: dir, spec: spec, rec: rec, notify: make(chan struct{})}
		p.vms[v.id] = v
		killMaintenance(dir, p.cfg.QEMU)
		if !rec.Launched && rec.State != compute.StateRunning {
			continue
		}
		var proc Process = deadProcess{}
		adopted := adoptProcess(dir, p.cfg.QEMU)
		if adopted != nil {
			proc = adopted
		}
		r := newRunState(p, v, proc, rec.LogStart, rec.HostKey)
		if rec.State == compute.StateRunning {
			r.isStarted = true
			close(r.started)
		}
		v.run = r
		if adopted == nil {
			// Replays the log's events and records the exit, synchronously.
			r.monitor(true)
			p.log.Info("container VM found dead", zap.String("id", v.id), zap.Int("exitCode", v.rec.ExitCode))
			continue
		}
		p.log.Info("container VM re-attached", zap.String("id", v.id), zap.Int("pid", adopted.Pid()))
		go r.monitor(true)
	}
	return nil
}

// deadProcess stands for a VM process that is already gone.
type deadProcess struct{}

func (deadProcess) Pid() int    { return 0 }
func (deadProcess) Wait()       {}
func (deadProcess) Kill() error { return nil }
