package kernel

import (
	"fmt"

	"github.com/vchproject/vch/errdefs"
)

// Order returns the modules to load, in load order, for the wanted names:
// each wanted name in the given order, preceded by its not yet listed
// dependencies (depth first); built-in modules are dropped. A name that is
// neither built in nor available (has) is an error, as is a dependency
// cycle. Order does no I/O itself; deps may.
func Order(want []string, builtin map[string]bool, has func(string) bool, deps func(string) ([]string, error)) ([]string, error) {
	var out []string
	done := map[string]bool{}
	visiting := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if done[name] || builtin[name] {
			return nil
		}
		if visiting[name] {
			return fmt.Errorf("module dependency cycle at %s: %w", name, errdefs.ErrFailedPrecondition)
		}
		if !has(name) {
			return fmt.Errorf("module %s: neither built in nor a module file: %w", name, errdefs.ErrNotFound)
		}
		visiting[name] = true
		ds, err := deps(name)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := visit(d); err != nil {
				return fmt.Errorf("%s needs %w", name, err)
			}
		}
		visiting[name] = false
		done[name] = true
		out = append(out, name)
		return nil
	}
	for _, w := range want {
		if err := visit(w); err != nil {
			return nil, err
		}
	}
	return out, nil
}
