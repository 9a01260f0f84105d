package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/atomicfile"
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
		if leftover(e.Name()) {
			// A create or remove that a crash cut short.
			p.log.Info("removing what an interrupted create or remove left", zap.String("dir", e.Name()))
			if err := os.RemoveAll(filepath.Join(p.cfg.Root, e.Name())); err != nil {
				p.log.Warn("sweep state directory", zap.String("dir", e.Name()), zap.Error(err))
			}
			continue
		}
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(p.cfg.Root, e.Name())
		if err := atomicfile.SweepTemps(dir); err != nil {
			p.log.Warn("sweep container directory", zap.String("dir", dir), zap.Error(err))
		}
		spec, rec, err := loadContainer(dir)
		if errors.Is(err, fs.ErrNotExist) && spec.ID == e.Name() {
			// Made by an older vchd that wrote status.json last: the
			// definition is whole, the container never ran.
			rec = record{Status: compute.Status{State: compute.StateCreated}}
			err = saveRecord(dir, &rec)
		}
		if err != nil {
			// No usable definition: nothing can show or remove it, so
			// it goes, rather than lingering invisibly.
			p.log.Warn("removing container directory without a readable definition", zap.String("dir", dir), zap.Error(err))
			if trash, terr := trashName(p.cfg.Root, e.Name()); terr == nil && os.Rename(dir, trash) == nil {
				_ = os.RemoveAll(trash)
			}
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
		if adopted != nil && rec.State != compute.StateRunning {
			// A start that vchd's death cut short: nobody was told the
			// container runs, and no run can be resumed half-way. The VM
			// goes, and the container is exited (restart policies apply).
			p.log.Info("killing the VM of a start that a vchd restart interrupted", zap.String("id", v.id), zap.Int("pid", adopted.Pid()))
			_ = adopted.Kill()
			adopted.Wait()
			adopted = nil
		}
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

// Names of what a create or remove leaves when a crash cuts it short: a
// directory being built, and one being deleted.
const (
	tmpPrefix   = ".tmp-"
	trashPrefix = ".trash-"
)

func leftover(name string) bool {
	return strings.HasPrefix(name, tmpPrefix) || strings.HasPrefix(name, trashPrefix)
}

// trashName returns a free name under root to rename a container directory
// to before deleting it.
func trashName(root, id string) (string, error) {
	d, err := os.MkdirTemp(root, trashPrefix+id[:min(12, len(id))]+"-")
	if err != nil {
		return "", err
	}
	// Rename needs the target gone (or an empty directory): keep the
	// unique name, drop the directory.
	if err := os.Remove(d); err != nil {
		return "", err
	}
	return d, nil
}

// crashHook, set by tests only, runs at the named points of create and
// remove, where a crash of vchd would leave the state as it is then.
var crashHook func(point string)

func crashPoint(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

// deadProcess stands for a VM process that is already gone.
type deadProcess struct{}

func (deadProcess) Pid() int    { return 0 }
func (deadProcess) Wait()       {}
func (deadProcess) Kill() error { return nil }
