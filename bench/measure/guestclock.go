package measure

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// GuestSplit divides the time from QEMU's launch to the tether's first
// report into QEMU's own start-up and the guest's boot, which no single
// clock shows.
//
// The tether sets the guest clock to LaunchTime (the host clock taken just
// before QEMU is launched) plus CLOCK_BOOTTIME, and stamps its log records
// with it. So a record's guest time minus the launch step is how long the
// guest kernel had been running when it wrote the record, and the host's
// observation of the same event minus that is when the kernel started, on
// the host clock. The "mounted" event is the first one written after the
// clock is set. The split is an estimate: LaunchTime is taken when the
// config disk is written, a little before the launch step, so the QEMU part
// comes out short by that gap, and long by the record's transport to the
// host (virtio-serial, the monitor's 10 ms poll).
type GuestSplit struct {
	QEMU   time.Duration // launch → guest kernel starts
	Kernel time.Duration // guest kernel starts → tether reports ready
}

// SplitBoot computes a GuestSplit for container id from its output.log
// below stateDir and its boot steps. ok is false when the steps or the
// record are missing.
func SplitBoot(stateDir, id string, steps []Step) (GuestSplit, bool) {
	at := map[string]time.Time{}
	for _, s := range steps {
		at[s.Name] = s.At
	}
	launch, ok1 := at["launch"]
	tether, ok2 := at["tether"]
	hostMounted, ok3 := at[proto.EventMounted]
	if !ok1 || !ok2 || !ok3 {
		return GuestSplit{}, false
	}
	dir, err := containerDir(stateDir, id)
	if err != nil {
		return GuestSplit{}, false
	}
	guestMounted, ok := lastEvent(filepath.Join(dir, "output.log"), logStart(dir), proto.EventMounted)
	if !ok {
		return GuestSplit{}, false
	}
	bootAtMounted := guestMounted.Sub(launch)
	kernelStart := hostMounted.Add(-bootAtMounted)
	split := GuestSplit{QEMU: kernelStart.Sub(launch), Kernel: tether.Sub(kernelStart)}
	if split.QEMU < 0 || split.Kernel < 0 {
		return GuestSplit{}, false
	}
	return split, true
}

// containerDir finds the directory named id that holds output.log.
func containerDir(stateDir, id string) (string, error) {
	var found string
	errFound := errors.New("found")
	err := filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != id {
			return nil
		}
		if _, err := os.Stat(filepath.Join(path, "output.log")); err == nil {
			found = path
			return errFound
		}
		return nil
	})
	if found != "" {
		return found, nil
	}
	if err == nil {
		err = fs.ErrNotExist
	}
	return "", err
}

// logStart reads the offset of the last run's first record from
// status.json (0 if unknown).
func logStart(dir string) int64 {
	data, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err != nil {
		return 0
	}
	var st struct {
		LogStart int64 `json:"logStart"`
	}
	if json.Unmarshal(data, &st) != nil {
		return 0
	}
	return st.LogStart
}

// lastEvent returns the guest time of the last event record named name in
// the log from offset on.
func lastEvent(path string, offset int64, name string) (time.Time, bool) {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return time.Time{}, false
	}
	b := data[offset:]
	var at time.Time
	found := false
	for len(b) > 0 {
		rec, n, err := proto.DecodeRecord(b)
		if err != nil {
			break
		}
		b = b[n:]
		if rec.Kind != proto.KindEvent {
			continue
		}
		var ev proto.Event
		if json.Unmarshal(rec.Data, &ev) == nil && ev.Name == name {
			at, found = rec.Time, true
		}
	}
	return at, found
}
