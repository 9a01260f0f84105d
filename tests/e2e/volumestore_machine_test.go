package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// vic-machine create validates --volume-store and leaves nothing behind
// when it refuses one; inspect shows the stores of a VCH.
func TestVicMachineVolumeStores(t *testing.T) {
	out, err := vicMachine("inspect", "--name", env.name)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	for label, path := range env.volStores {
		if !strings.Contains(out, fmt.Sprintf("Volume store %s: %s\n", label, path)) {
			t.Errorf("inspect lacks store %s at %s:\n%s", label, path, out)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	good := filepath.Join(state, "good-store")
	bin := filepath.Join(env.repo, "bin", "vic-machine")
	// Should a refused create make the VCH all the same, it goes.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(state, "vs-bad")); err == nil {
			_ = exec.Command(bin, "delete", "--name", "vs-bad", "--force", "--state-dir", state).Run()
		}
	})
	for _, tc := range []struct {
		stores []string
		want   string
	}{
		{[]string{"relative/dir:default"}, "is not absolute"},
		{[]string{good}, "want PATH:LABEL"},
		{[]string{good + ":"}, "want PATH:LABEL"},
		{[]string{good + ":bad label"}, `volume store label "bad label"`},
		{[]string{good + ":default", filepath.Join(state, "x") + ":default"}, `label "default" is given twice`},
		{[]string{good + ":a1", good + ":b1"}, "share the path"},
	} {
		args := []string{"create", "--name", "vs-bad", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--state-dir", state}
		for _, s := range tc.stores {
			args = append(args, "--volume-store", s)
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("create %v: %v\n%s\nwant %q", tc.stores, err, out, tc.want)
		}
		for _, p := range []string{filepath.Join(state, "vs-bad"), good} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Fatalf("refused create %v left %s", tc.stores, p)
			}
		}
	}
}
