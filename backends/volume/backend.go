package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	dvolume "github.com/docker/docker/api/types/volume"
	"go.uber.org/zap"

	volumerouter "github.com/vchproject/vch/daemon/router/volume"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/volume"
)

// Driver is the driver name volumes report; "local" keeps compose files
// and scripts that name docker's default driver working. "vsphere", VIC's
// name, is accepted as well.
const Driver = "local"

// AnonymousLabel marks volumes made for -v /path and image VOLUMEs, as
// docker does; prune without all=true removes only these.
const AnonymousLabel = "com.docker.volume.anonymous"

// Option keys of VIC's volume driver.
const (
	OptVolumeStore = "VolumeStore"
	OptCapacity    = "Capacity"
)

// Backend implements the daemon's volume.Backend.
type Backend struct {
	pl         volume.Provider
	containers compute.Inspector
	log        *zap.Logger
	events     EventLogger
}

// EventLogger records docker events (backends/events implements it).
type EventLogger interface {
	Log(typ events.Type, action events.Action, actor events.Actor)
}

type noEvents struct{}

func (noEvents) Log(events.Type, events.Action, events.Actor) {}

// SetEvents makes the backend log volume create and destroy events to l.
func (b *Backend) SetEvents(l EventLogger) { b.events = l }

func (b *Backend) event(action events.Action, name string) {
	b.events.Log(events.VolumeEventType, action, events.Actor{ID: name, Attributes: map[string]string{"driver": "local"}})
}

var _ volumerouter.Backend = (*Backend)(nil)

// New returns the volume backend.
func New(pl volume.Provider, containers compute.Inspector, log *zap.Logger) *Backend {
	if log == nil {
		log = zap.NewNop()
	}
	return &Backend{pl: pl, containers: containers, log: log, events: noEvents{}}
}

// Provider is the port layer's volume provider.
func (b *Backend) Provider() volume.Provider { return b.pl }

func checkDriver(d string) error {
	switch d {
	case "", "local", "vsphere":
		return nil
	}
	return errdefs.NotFound(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", d, d))
}

// createOptions turns docker's driver options into the port layer's.
func createOptions(name, driver string, opts, labels map[string]string) (volume.CreateOptions, error) {
	if err := checkDriver(driver); err != nil {
		return volume.CreateOptions{}, err
	}
	o := volume.CreateOptions{Name: name, Labels: labels, Options: map[string]string{}}
	for k, v := range opts {
		switch {
		case strings.EqualFold(k, OptVolumeStore):
			o.Store = v
			o.Options[OptVolumeStore] = v
		case strings.EqualFold(k, OptCapacity):
			c, err := ParseCapacity(v)
			if err != nil {
				return o, err
			}
			o.Capacity = c
			o.Options[OptCapacity] = FormatCapacity(c)
		default:
			return o, errdefs.InvalidParameter(fmt.Sprintf("invalid option key: %q (this VCH takes %s and %s)", k, OptVolumeStore, OptCapacity))
		}
	}
	if o.Store == "" {
		o.Store = volume.DefaultStore
	}
	if o.Capacity == 0 {
		o.Capacity = volume.DefaultCapacity
	}
	// Options are what the user asked for, as docker keeps them; the
	// defaults applied show in the volume's Status. docker-compose 1.x
	// compares a volume's Options with the compose file's driver_opts and
	// refuses to go on if the volume has an option the file lacks.
	return o, nil
}

// VolumeCreate creates a volume. An existing name returns that volume, as
// docker does; a name without a value makes an anonymous-style random one.
func (b *Backend) VolumeCreate(ctx context.Context, req dvolume.CreateOptions) (*dvolume.Volume, error) {
	name := req.Name
	if name == "" {
		name = RandomName()
	}
	if err := volume.ValidateName(name); err != nil {
		return nil, err
	}
	if v, err := b.pl.Get(ctx, name); err == nil {
		if err := checkDriver(req.Driver); err != nil {
			return nil, err
		}
		return b.toDocker(v), nil
	}
	o, err := createOptions(name, req.Driver, req.DriverOpts, req.Labels)
	if err != nil {
		return nil, err
	}
	v, err := b.pl.Create(ctx, o)
	if errdefs.IsAlreadyExists(err) {
		v, err = b.pl.Get(ctx, name)
	} else if err == nil {
		b.event(events.ActionCreate, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return b.toDocker(v), nil
}

// RandomName is an anonymous volume's name: 64 hex digits, as docker's.
func RandomName() string {
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(r[:])
}

// VolumeInspect returns one volume.
func (b *Backend) VolumeInspect(ctx context.Context, name string) (*dvolume.Volume, error) {
	v, err := b.pl.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return b.toDocker(v), nil
}

func (b *Backend) toDocker(v volume.Volume) *dvolume.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	opts := v.Options
	if opts == nil {
		opts = map[string]string{}
	}
	status := map[string]any{
		OptVolumeStore: v.Store,
		OptCapacity:    FormatCapacity(v.Capacity),
	}
	for _, s := range b.pl.Stores() {
		if s.Label == v.Store {
			status["StorePath"] = s.Path
		}
	}
	return &dvolume.Volume{
		Name: v.Name, Driver: Driver, Mountpoint: v.Location,
		CreatedAt: v.Created.Format(time.RFC3339), Labels: labels, Scope: "local",
		Options: opts, Status: status,
	}
}

// users maps each volume name to the containers (ids) that mount it.
func (b *Backend) users(ctx context.Context) (map[string][]string, error) {
	cs, err := b.containers.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := map[string][]string{}
	for _, c := range cs {
		seen := map[string]bool{}
		for _, m := range c.Spec.Mounts {
			if m.Volume != "" && !seen[m.Volume] {
				seen[m.Volume] = true
				out[m.Volume] = append(out[m.Volume], c.Spec.ID)
			}
		}
	}
	return out, nil
}

var validFilters = map[string]bool{"dangling": true, "name": true, "label": true, "driver": true}

type volumeFilter struct {
	args     filters.Args
	dangling *bool
}

func newFilter(f filters.Args, extra ...string) (*volumeFilter, error) {
	valid := map[string]bool{}
	for k := range validFilters {
		valid[k] = true
	}
	for _, k := range extra {
		valid[k] = true
	}
	for _, k := range f.Keys() {
		if !valid[k] {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	vf := &volumeFilter{args: f}
	if f.Contains("dangling") {
		d := f.ExactMatch("dangling", "true") || f.ExactMatch("dangling", "1")
		if !d && !f.ExactMatch("dangling", "false") && !f.ExactMatch("dangling", "0") {
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid filter 'dangling=%s'", strings.Join(f.Get("dangling"), ",")))
		}
		vf.dangling = &d
	}
	return vf, nil
}

func (vf *volumeFilter) match(v volume.Volume, inUse bool) bool {
	if vf.dangling != nil && *vf.dangling == inUse {
		return false
	}
	if vf.args.Contains("name") {
		ok := false
		for _, n := range vf.args.Get("name") {
			if strings.Contains(v.Name, n) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if vf.args.Contains("driver") && !vf.args.ExactMatch("driver", Driver) {
		return false
	}
	if vf.args.Contains("label!") && vf.args.MatchKVList("label!", v.Labels) {
		return false
	}
	return vf.args.MatchKVList("label", v.Labels)
}

// VolumeList lists volumes that pass f.
func (b *Backend) VolumeList(ctx context.Context, f filters.Args) ([]*dvolume.Volume, error) {
	vf, err := newFilter(f)
	if err != nil {
		return nil, err
	}
	vols, err := b.pl.List(ctx)
	if err != nil {
		return nil, err
	}
	users, err := b.users(ctx)
	if err != nil {
		return nil, err
	}
	out := []*dvolume.Volume{}
	for _, v := range vols {
		if vf.match(v, len(users[v.Name]) > 0) {
			out = append(out, b.toDocker(v))
		}
	}
	return out, nil
}

// VolumeRemove deletes a volume that no container uses.
func (b *Backend) VolumeRemove(ctx context.Context, name string, force bool) error {
	if _, err := b.pl.Get(ctx, name); err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	users, err := b.users(ctx)
	if err != nil {
		return err
	}
	if ids := users[name]; len(ids) > 0 {
		sort.Strings(ids)
		return errdefs.Conflict(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", ")))
	}
	if err := b.pl.Remove(ctx, name); err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	b.event(events.ActionDestroy, name)
	return nil
}

// VolumePrune removes unused volumes: anonymous ones only, unless the
// filter all=true asks for named ones too (API 1.42 and later, as docker).
func (b *Backend) VolumePrune(ctx context.Context, f filters.Args) (*dvolume.PruneReport, error) {
	all := false
	for _, v := range f.Get("all") {
		switch v {
		case "true", "1":
			all = true
		case "false", "0":
		default:
			return nil, errdefs.InvalidParameter(fmt.Sprintf("invalid filter 'all=%s'", v))
		}
		f.Del("all", v)
	}
	if f.Contains("dangling") {
		return nil, errdefs.InvalidParameter("invalid filter 'dangling'")
	}
	vf, err := newFilter(f, "label!")
	if err != nil {
		return nil, err
	}
	vols, err := b.pl.List(ctx)
	if err != nil {
		return nil, err
	}
	users, err := b.users(ctx)
	if err != nil {
		return nil, err
	}
	rep := &dvolume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range vols {
		if len(users[v.Name]) > 0 || !vf.match(v, false) {
			continue
		}
		if _, anon := v.Labels[AnonymousLabel]; !all && !anon {
			continue
		}
		if err := b.pl.Remove(ctx, v.Name); err != nil {
			b.log.Warn("prune: remove volume", zap.String("name", v.Name), zap.Error(err))
			continue
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		b.event(events.ActionDestroy, v.Name)
	}
	return rep, nil
}

// Ensure returns the name of the volume a container mounts, creating it
// in the store its options name (default: "default") if it does not
// exist. An empty name makes an anonymous volume.
func (b *Backend) Ensure(ctx context.Context, name, driver string, opts, labels map[string]string, anonymous bool) (string, bool, error) {
	if name == "" {
		name = RandomName()
	}
	if err := volume.ValidateName(name); err != nil {
		return "", false, err
	}
	if _, err := b.pl.Get(ctx, name); err == nil {
		return name, false, checkDriver(driver)
	}
	if anonymous {
		l := map[string]string{AnonymousLabel: ""}
		for k, v := range labels {
			l[k] = v
		}
		labels = l
	}
	o, err := createOptions(name, driver, opts, labels)
	if err != nil {
		return "", false, err
	}
	if _, err := b.pl.Create(ctx, o); err != nil {
		if errdefs.IsAlreadyExists(err) {
			return name, false, nil
		}
		return "", false, fmt.Errorf("create volume %s: %w", name, err)
	}
	b.event(events.ActionCreate, name)
	return name, true, nil
}

// Location is where a volume lives, or "" for an unknown one.
func (b *Backend) Location(ctx context.Context, name string) string {
	v, err := b.pl.Get(ctx, name)
	if err != nil {
		return ""
	}
	return v.Location
}
