package names

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vchproject/vch/errdefs"
)

// Index maps container names to IDs and resolves what a user typed.
// Names are stored with their leading "/". The zero value is not usable;
// call NewIndex. It is safe for concurrent use.
type Index struct {
	mu     sync.RWMutex
	byName map[string]string // "/name" -> id
	byID   map[string]string // id -> "/name"
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byName: map[string]string{}, byID: map[string]string{}}
}

// ConflictError is docker's text for a taken name.
func ConflictError(name, id string) error {
	return errdefs.Conflict(fmt.Sprintf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, id))
}

// Reserve records name (normalized, with "/") for id. A name held by
// another container is a Conflict with docker's text.
func (x *Index) Reserve(name, id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if other, ok := x.byName[name]; ok && other != id {
		return ConflictError(name, other)
	}
	if old, ok := x.byID[id]; ok && old != name {
		delete(x.byName, old)
	}
	x.byName[name] = id
	x.byID[id] = name
	return nil
}

// Rename moves id from its current name to newName; the old name is freed
// only if the new one could be taken.
func (x *Index) Rename(id, newName string) error {
	return x.Reserve(newName, id)
}

// Release forgets id and its name.
func (x *Index) Release(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if name, ok := x.byID[id]; ok {
		delete(x.byName, name)
	}
	delete(x.byID, id)
}

// Name returns the name of id ("" if unknown).
func (x *Index) Name(id string) string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byID[id]
}

// IDs returns every known ID, sorted.
func (x *Index) IDs() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	ids := make([]string, 0, len(x.byID))
	for id := range x.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Resolve finds the container a user meant, in docker's order: exact ID,
// exact name (with or without "/"), then a unique ID prefix. An ambiguous
// prefix is InvalidParameter, nothing found is NotFound, both with docker's
// texts.
func (x *Index) Resolve(ref string) (string, error) {
	if ref == "" {
		return "", errdefs.InvalidParameter(`invalid name or ID supplied: ""`)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if _, ok := x.byID[ref]; ok {
		return ref, nil
	}
	name := ref
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if id, ok := x.byName[name]; ok {
		return id, nil
	}
	found := ""
	for id := range x.byID {
		if strings.HasPrefix(id, ref) {
			if found != "" {
				return "", errdefs.InvalidParameter("multiple IDs found with provided prefix: " + ref)
			}
			found = id
		}
	}
	if found == "" {
		return "", errdefs.NotFound("No such container: " + ref)
	}
	return found, nil
}
