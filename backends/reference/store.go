package reference

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/distribution/reference"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
)

// fileFormat is the stored form: repository name -> reference -> image ID,
// the same shape as docker's repositories.json.
type fileFormat struct {
	Repositories map[string]map[string]string `json:"Repositories"`
}

// Store maps references to image IDs. It is safe for concurrent use.
type Store struct {
	path string
	mu   sync.RWMutex
	refs map[string]string // normalized reference string -> image ID
}

// Open loads the store kept at path (a missing file is an empty store).
func Open(path string) (*Store, error) {
	s := &Store{path: path, refs: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tag store: %w", err)
	}
	var f fileFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode tag store %s: %w", path, err)
	}
	for _, refs := range f.Repositories {
		for ref, id := range refs {
			s.refs[ref] = id
		}
	}
	return s, nil
}

// key is the stored form of a reference.
func key(ref reference.Named) string {
	return reference.TagNameOnly(ref).String()
}

// Get returns the image ID a reference points to.
func (s *Store) Get(ref reference.Named) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.refs[key(ref)]
	return id, ok
}

// Add points ref at id (moving it if it pointed elsewhere) and persists.
func (s *Store) Add(ref reference.Named, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(ref)
	old, had := s.refs[k]
	s.refs[k] = id
	if err := s.save(); err != nil {
		if had {
			s.refs[k] = old
		} else {
			delete(s.refs, k)
		}
		return err
	}
	return nil
}

// Delete removes ref; removing an unknown reference is NotFound.
func (s *Store) Delete(ref reference.Named) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(ref)
	old, ok := s.refs[k]
	if !ok {
		return errdefs.NotFound("No such image: " + reference.FamiliarString(reference.TagNameOnly(ref)))
	}
	delete(s.refs, k)
	if err := s.save(); err != nil {
		s.refs[k] = old
		return err
	}
	return nil
}

// References returns every reference to id, sorted by their string form.
func (s *Store) References(id string) []reference.Named {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []reference.Named
	for k, v := range s.refs {
		if v != id {
			continue
		}
		if n, err := reference.ParseNormalizedNamed(k); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// save writes the whole store atomically. Called with s.mu held.
func (s *Store) save() error {
	f := fileFormat{Repositories: map[string]map[string]string{}}
	for k, id := range s.refs {
		n, err := reference.ParseNormalizedNamed(k)
		if err != nil {
			continue
		}
		repo := n.Name()
		if f.Repositories[repo] == nil {
			f.Repositories[repo] = map[string]string{}
		}
		f.Repositories[repo][k] = id
	}
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return err
	}
	return writeAtomic(s.path, b)
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("tag store dir: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("tag store: %w", err)
	}
	return nil
}

// Tags returns the tagged references of repo (a name without tag or
// digest), sorted.
func (s *Store) Tags(repo reference.Named) []reference.NamedTagged {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []reference.NamedTagged
	for k := range s.refs {
		n, err := reference.ParseNormalizedNamed(k)
		if err != nil || n.Name() != repo.Name() {
			continue
		}
		if t, ok := n.(reference.NamedTagged); ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag() < out[j].Tag() })
	return out
}
