package vsphere

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Placement is where a VCH goes: the pool its own pool is made in and the
// compute resource (cluster or host) that pool belongs to.
type Placement struct {
	Parent  *object.ResourcePool // InventoryPath set
	Compute types.ManagedObjectReference
	Hosts   []types.ManagedObjectReference
}

func isNotFound(err error) bool {
	var nf *find.NotFoundError
	return errors.As(err, &nf)
}

// computeNames lists the datacenter's clusters and standalone hosts.
func (s *Session) computeNames(ctx context.Context) string {
	crs, err := s.Finder.ComputeResourceList(ctx, "*")
	if err != nil {
		return "none"
	}
	var names []string
	for _, cr := range crs {
		names = append(names, cr.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ResolveCompute finds --compute-resource: a cluster, a standalone host or
// a resource pool (cluster/pool and cluster/Resources/pool both work).
// Empty picks the datacenter's only compute resource.
func (s *Session) ResolveCompute(ctx context.Context, name string) (*Placement, error) {
	var pool *object.ResourcePool
	if name == "" {
		crs, err := s.Finder.ComputeResourceList(ctx, "*")
		if err != nil || len(crs) != 1 {
			return nil, fmt.Errorf("the datacenter has %d compute resources (%s): choose one with --compute-resource", len(crs), s.computeNames(ctx))
		}
		p, err := crs[0].ResourcePool(ctx)
		if err != nil {
			return nil, fmt.Errorf("resource pool of %s: %w", crs[0].InventoryPath, err)
		}
		p.InventoryPath = crs[0].InventoryPath + "/Resources"
		pool = p
	} else {
		crs, err := s.Finder.ComputeResourceList(ctx, name)
		switch {
		case err == nil && len(crs) == 1:
			p, err := crs[0].ResourcePool(ctx)
			if err != nil {
				return nil, fmt.Errorf("resource pool of %s: %w", crs[0].InventoryPath, err)
			}
			p.InventoryPath = crs[0].InventoryPath + "/Resources"
			pool = p
		case err == nil:
			return nil, fmt.Errorf("--compute-resource %q matches %d compute resources: give its path", name, len(crs))
		case !isNotFound(err):
			return nil, fmt.Errorf("find compute resource %q: %w", name, err)
		}
		if pool == nil {
			candidates := []string{name}
			if first, rest, ok := strings.Cut(strings.Trim(name, "/"), "/"); ok && !strings.HasPrefix(rest, "Resources") {
				candidates = append(candidates, first+"/Resources/"+rest)
			}
			for _, c := range candidates {
				p, err := s.Finder.ResourcePool(ctx, c)
				if err == nil {
					pool = p
					break
				}
				if !isNotFound(err) {
					return nil, fmt.Errorf("find resource pool %q: %w", c, err)
				}
			}
		}
		if pool == nil {
			return nil, fmt.Errorf("unknown compute resource %q: not a cluster, host or resource pool of %s (it has %s)", name, s.Datacenter.Name(), s.computeNames(ctx))
		}
	}
	var rp mo.ResourcePool
	if err := pool.Properties(ctx, pool.Reference(), []string{"owner"}, &rp); err != nil {
		return nil, fmt.Errorf("owner of %s: %w", pool.InventoryPath, err)
	}
	var cr mo.ComputeResource
	if err := s.propertiesOf(ctx, rp.Owner, []string{"host"}, &cr); err != nil {
		return nil, fmt.Errorf("hosts of %s: %w", pool.InventoryPath, err)
	}
	return &Placement{Parent: pool, Compute: rp.Owner, Hosts: cr.Host}, nil
}

func (s *Session) propertiesOf(ctx context.Context, ref types.ManagedObjectReference, props []string, dst any) error {
	return object.NewCommon(s.Client, ref).Properties(ctx, ref, props, dst)
}

// Datastore finds a datastore by name, with a one-line error naming the
// datastores there are.
func (s *Session) Datastore(ctx context.Context, name string) (*object.Datastore, error) {
	ds, err := s.Finder.Datastore(ctx, name)
	if err == nil {
		return ds, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("find datastore %q: %w", name, err)
	}
	var names []string
	if all, err := s.Finder.DatastoreList(ctx, "*"); err == nil {
		for _, d := range all {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown datastore %q: %s has %s", name, s.Datacenter.Name(), strings.Join(names, ", "))
}

// Network finds a port group (distributed or standard) by name.
func (s *Session) Network(ctx context.Context, flag, name string) (object.NetworkReference, error) {
	n, err := s.Finder.Network(ctx, name)
	if err == nil {
		return n, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("%s: find port group %q: %w", flag, name, err)
	}
	var names []string
	if all, err := s.Finder.NetworkList(ctx, "*"); err == nil {
		for _, n := range all {
			names = append(names, path.Base(n.GetInventoryPath()))
		}
	}
	sort.Strings(names)
	return nil, fmt.Errorf("%s: unknown port group %q: %s has %s", flag, name, s.Datacenter.Name(), strings.Join(names, ", "))
}

// ParseDatastorePath reads "ds[/path]" (also "ds://ds/path" and
// "[ds] path") into datastore and folder.
func ParseDatastorePath(s string) (ds, folder string, err error) {
	v := strings.TrimPrefix(s, "ds://")
	if strings.HasPrefix(v, "[") {
		i := strings.Index(v, "]")
		if i < 0 {
			return "", "", fmt.Errorf("%q: missing ]", s)
		}
		ds, folder = v[1:i], strings.TrimSpace(v[i+1:])
	} else {
		ds, folder, _ = strings.Cut(v, "/")
	}
	folder = strings.Trim(path.Clean("/"+folder), "/")
	if ds == "" {
		return "", "", fmt.Errorf("%q names no datastore: use DATASTORE[/PATH]", s)
	}
	if strings.Contains(folder, "..") {
		return "", "", fmt.Errorf("%q: the path may not climb out of the datastore", s)
	}
	return ds, folder, nil
}
