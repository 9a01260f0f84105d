package measure

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Step is one timestamped boot step of a container VM.
type Step struct {
	Name string
	At   time.Time
}

// FindSteps looks for vch's boot steps in a container's inspect JSON:
// the first array, at any depth, whose elements are all objects with a
// name and a timestamp ({"name": "launch", "at": "…"}, any capitalisation).
// A string value holding such an array (a label, say) counts too. It
// returns nil when there is none, as for dockerd.
func FindSteps(raw []byte) []Step {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return walkSteps(v)
}

func walkSteps(v any) []Step {
	switch x := v.(type) {
	case []any:
		if steps, ok := asSteps(x); ok {
			return steps
		}
		for _, e := range x {
			if s := walkSteps(e); s != nil {
				return s
			}
		}
	case map[string]any:
		for _, e := range x {
			if s := walkSteps(e); s != nil {
				return s
			}
		}
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "[{") {
			return FindSteps([]byte(t))
		}
	}
	return nil
}

func asSteps(arr []any) ([]Step, bool) {
	if len(arr) == 0 {
		return nil, false
	}
	steps := make([]Step, 0, len(arr))
	for _, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var s Step
		for k, val := range obj {
			str, _ := val.(string)
			switch strings.ToLower(k) {
			case "name", "step":
				s.Name = str
			case "at", "time", "timestamp":
				at, err := time.Parse(time.RFC3339Nano, str)
				if err != nil {
					return nil, false
				}
				s.At = at
			}
		}
		if s.Name == "" || s.At.IsZero() {
			return nil, false
		}
		steps = append(steps, s)
	}
	return steps, true
}

// StepsFromState reads the steps from a status.json that the qemu provider
// keeps for container id anywhere below stateDir (…/<id>/status.json). It
// is the fallback when inspect does not carry them.
func StepsFromState(stateDir, id string) ([]Step, error) {
	var found []Step
	errFound := errors.New("found")
	err := filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable corners (sockets, vanished files) are not ours
		}
		if d.IsDir() || d.Name() != "status.json" || filepath.Base(filepath.Dir(path)) != id {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if s := FindSteps(data); s != nil {
			found = s
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	return found, nil
}
