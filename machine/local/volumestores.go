package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/portlayer/volume"
)

// ParseVolumeStore reads one --volume-store value, PATH:LABEL. The label
// follows the last colon; the path must be absolute.
func ParseVolumeStore(s string) (vchconfig.VolumeStore, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return vchconfig.VolumeStore{}, fmt.Errorf("--volume-store %q: want PATH:LABEL, e.g. /var/lib/vch-volumes:default", s)
	}
	vs := vchconfig.VolumeStore{Path: filepath.Clean(s[:i]), Label: s[i+1:]}
	if !filepath.IsAbs(vs.Path) {
		return vs, fmt.Errorf("--volume-store %q: path %q is not absolute", s, s[:i])
	}
	if err := volume.ValidateStoreLabel(vs.Label); err != nil {
		return vs, fmt.Errorf("--volume-store %q: %w", s, err)
	}
	return vs, nil
}

// prepareVolumeStores validates the stores of a new VCH and makes their
// directories; without any, the VCH gets ROOT/volumes labelled "default".
func prepareVolumeStores(root string, stores []vchconfig.VolumeStore) ([]vchconfig.VolumeStore, error) {
	if len(stores) == 0 {
		stores = []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes"), Label: volume.DefaultStore}}
	}
	labels, paths := map[string]bool{}, map[string]string{}
	for _, s := range stores {
		if labels[s.Label] {
			return nil, fmt.Errorf("volume store label %q is given twice", s.Label)
		}
		labels[s.Label] = true
		if other, ok := paths[s.Path]; ok {
			return nil, fmt.Errorf("volume stores %q and %q share the path %s", other, s.Label, s.Path)
		}
		paths[s.Path] = s.Label
	}
	for _, s := range stores {
		if err := os.MkdirAll(s.Path, 0o700); err != nil {
			return nil, fmt.Errorf("volume store %s: %w", s.Label, err)
		}
		f, err := os.CreateTemp(s.Path, ".vch-write-test-")
		if err != nil {
			return nil, fmt.Errorf("volume store %s: path %s is not writable: %w", s.Label, s.Path, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return stores, nil
}

// checkStorePath tells, before anything is made, whether a store's
// directory exists or can be made: its nearest existing ancestor must be a
// writable directory.
func checkStorePath(s vchconfig.VolumeStore) error {
	p := s.Path
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("--volume-store %s:%s: %s is not a directory: give a directory path", s.Path, s.Label, p)
			}
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("--volume-store %s:%s: %s is not writable: give a directory this user can write", s.Path, s.Label, p)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("--volume-store %s:%s: cannot use %s (%v): give a readable directory path", s.Path, s.Label, p, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// CheckBindAllow validates the directories bind mounts may come from
// (vic-machine --bind-allow): absolute, existing directories; it returns
// them cleaned, without duplicates. vchd resolves symlinks at each use.
func CheckBindAllow(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("--bind-allow %s: the path must be absolute", p)
		}
		c := filepath.Clean(p)
		fi, err := os.Stat(c)
		if err != nil {
			return nil, fmt.Errorf("--bind-allow %s: %w", p, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--bind-allow %s: not a directory", p)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
