package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// bindSource checks a bind mount's host directory against the VCH's
// allowed roots (vic-machine --bind-allow) and returns it with every
// symlink resolved, which is what the VM is given. The path as written
// must be under an allowed root (so nothing is told about other host
// paths), and so must the resolved one (a symlink cannot lead out).
//
// With makeMissing (a -v bind) a missing directory is made, as docker
// does, but only below an existing directory that itself resolves under
// an allowed root.
func (b *Backend) bindSource(src string, makeMissing bool) (string, error) {
	src = filepath.Clean(src)
	if len(b.cfg.BindAllow) == 0 {
		return "", errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("bind mount of %s refused: this VCH allows no bind mounts of host directories (vic-machine configure --bind-allow DIR allows them under DIR); use a volume", src))
	}
	roots := make([]string, 0, 2*len(b.cfg.BindAllow))
	for _, a := range b.cfg.BindAllow {
		roots = append(roots, filepath.Clean(a))
		if r, err := filepath.EvalSymlinks(a); err == nil {
			roots = append(roots, r)
		}
	}
	refuse := func(what string) error {
		return errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("bind mount of %s refused: %s is not under a directory this VCH allows (%s)", src, what, strings.Join(b.cfg.BindAllow, ", ")))
	}
	if !under(src, roots) {
		return "", refuse(src)
	}
	real, err := filepath.EvalSymlinks(src)
	if errors.Is(err, fs.ErrNotExist) && makeMissing {
		if err = makeBindDir(src, roots, refuse); errdefs.IsForbidden(err) {
			return "", err
		} else if err != nil {
			return "", errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": making %s: %v", src, err))
		}
		real, err = filepath.EvalSymlinks(src)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": bind source path does not exist: %s", src))
	}
	if err != nil {
		return "", errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": %v", err))
	}
	if !under(real, roots) {
		return "", refuse("its target " + real)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", errdefs.InvalidParameter(fmt.Sprintf("invalid mount config for type \"bind\": %v", err))
	}
	if !fi.IsDir() {
		return "", errdefs.InvalidParameter(fmt.Sprintf("bind mount of %s: only directories can be bind mounted on this VCH, not files", src))
	}
	return real, nil
}

// makeBindDir makes the missing directory src: below its nearest existing
// ancestor, which must resolve under one of roots (so a symlink on the way
// cannot lead the new directories out).
func makeBindDir(src string, roots []string, refuse func(string) error) error {
	anc, rest := src, ""
	for {
		if _, err := os.Lstat(anc); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		rest = filepath.Join(filepath.Base(anc), rest)
		anc = filepath.Dir(anc)
	}
	real, err := filepath.EvalSymlinks(anc)
	if err != nil {
		return err
	}
	if !under(real, roots) {
		return refuse("its target " + filepath.Join(real, rest))
	}
	return os.MkdirAll(filepath.Join(real, rest), 0o755)
}

// under reports whether p is one of roots or inside one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// checkBinds checks c's bind mounts again before a run: the VCH may have
// narrowed --bind-allow since create, and a directory on the way may have
// been replaced by a symlink that leads out. Each must still resolve, under
// an allowed root, to the directory the VM was given at create.
func (b *Backend) checkBinds(c compute.Container) error {
	for _, mt := range c.Spec.Mounts {
		if mt.Volume != "" || mt.Source == "" {
			continue
		}
		real, err := b.bindSource(mt.Source, false)
		if err != nil {
			return err
		}
		if real != mt.Source {
			return errdefs.New(errdefs.ErrForbidden, fmt.Sprintf("bind mount of %s refused: it now leads to %s", mt.Source, real))
		}
	}
	return nil
}
