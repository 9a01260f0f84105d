package container

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/vchproject/vch/errdefs"
)

func TestApplyChanges(t *testing.T) {
	cfg := &container.Config{}
	err := applyChanges(cfg, []string{
		`ENV A=1 B="two words"`, "ENV C three four", `CMD ["echo", "hi"]`, "ENTRYPOINT /bin/run x",
		"EXPOSE 80 53/udp", "LABEL k=v", "USER nobody", "WORKDIR /app", "WORKDIR sub",
		"VOLUME /data /logs", "STOPSIGNAL SIGINT",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Env, ","); got != "A=1,B=two words,C=three four" {
		t.Errorf("Env %q", got)
	}
	// CMD came before ENTRYPOINT, so it stays.
	if strings.Join(cfg.Cmd, " ") != "echo hi" || strings.Join(cfg.Entrypoint, " ") != "/bin/sh -c /bin/run x" {
		t.Errorf("Cmd %q Entrypoint %q", cfg.Cmd, cfg.Entrypoint)
	}
	if _, ok := cfg.ExposedPorts[nat.Port("53/udp")]; !ok || len(cfg.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts %v", cfg.ExposedPorts)
	}
	if cfg.Labels["k"] != "v" || cfg.User != "nobody" || cfg.WorkingDir != "/app/sub" || cfg.StopSignal != "SIGINT" || len(cfg.Volumes) != 2 {
		t.Errorf("config %+v", cfg)
	}

	for _, tc := range []struct{ change, want string }{
		{"RUN echo hi", "run is not a valid change command"},
		{"FROM busybox", "from is not a valid change command"},
		{"ENV", "ENV requires at least one argument"},
		{"ENV =x", "ENV names can not be blank"},
		{"EXPOSE 99999999", "invalid containerPort: 99999999"},
	} {
		err := applyChanges(&container.Config{}, []string{tc.change})
		if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.change, err, tc.want)
		}
	}
}

func TestMergeCommitConfig(t *testing.T) {
	c := &container.Config{User: "u", Env: []string{"A=1", "B=2"}, Cmd: []string{"sleep", "1"}, WorkingDir: "/w", Labels: map[string]string{"x": "1"}}
	user := &container.Config{Env: []string{"B=3"}, Entrypoint: []string{"/e"}}
	mergeCommitConfig(user, c)
	if user.User != "u" || strings.Join(user.Env, ",") != "B=3,A=1" || user.Cmd != nil || user.WorkingDir != "/w" || user.Labels["x"] != "1" {
		t.Fatalf("merged %+v", user)
	}
	user = &container.Config{}
	mergeCommitConfig(user, c)
	if strings.Join(user.Cmd, " ") != "sleep 1" {
		t.Fatalf("Cmd %q", user.Cmd)
	}
}
