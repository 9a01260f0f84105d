package measure

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFindSteps(t *testing.T) {
	cases := []struct {
		name  string
		raw   string
		names []string
	}{
		{"nested field", `{"Id":"x","State":{"Status":"exited"},"VCH":{"Boot":[{"name":"launch","at":"2026-11-22T10:00:00.1Z"},{"name":"tether","at":"2026-11-22T10:00:01.5Z"}]}}`, []string{"launch", "tether"}},
		{"capitalised keys", `{"Boot":[{"Name":"launch","At":"2026-11-22T10:00:00Z"}]}`, []string{"launch"}},
		{"label holding json", `{"Config":{"Labels":{"vch.boot":"[{\"name\":\"launch\",\"at\":\"2026-11-22T10:00:00Z\"}]"}}}`, []string{"launch"}},
		{"dockerd has none", `{"Id":"x","Mounts":[],"Config":{"Env":["A=b"]},"NetworkSettings":{"Ports":{}}}`, nil},
		{"objects without times", `{"Mounts":[{"Name":"v","Source":"/x"}]}`, nil},
		{"bad time", `{"Boot":[{"name":"launch","at":"yesterday"}]}`, nil},
		{"not json", `nope`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FindSteps([]byte(c.raw))
			if len(got) != len(c.names) {
				t.Fatalf("FindSteps = %+v, want names %v", got, c.names)
			}
			for i, n := range c.names {
				if got[i].Name != n || got[i].At.IsZero() {
					t.Fatalf("step %d = %+v, want %s", i, got[i], n)
				}
			}
		})
	}
}

func TestStepsFromState(t *testing.T) {
	dir := t.TempDir()
	id := "0123abcd"
	p := filepath.Join(dir, "vch1", "containers", id)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	status := `{"state":"exited","boot":[{"name":"launch","at":"2026-11-22T10:00:00Z"},{"name":"process-exited","at":"2026-11-22T10:00:03Z"}]}`
	if err := os.WriteFile(filepath.Join(p, "status.json"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	steps, err := StepsFromState(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[1].At.Sub(steps[0].At) != 3*time.Second {
		t.Fatalf("steps = %+v", steps)
	}
	if s, err := StepsFromState(dir, "other"); err != nil || s != nil {
		t.Fatalf("other id: %+v, %v", s, err)
	}
}
