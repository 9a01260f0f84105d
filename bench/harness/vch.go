package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/errdefs"
)

// VCHConfig places a VCH made by vic-machine.
type VCHConfig struct {
	VicMachine string // path of bin/vic-machine
	Name       string
	StateDir   string // everything of this VCH lives below StateDir
	APIPort    int    // the Docker API port, on 127.0.0.1 of the benchmark's namespace
	ExtraArgs  []string
	ConfigDir  string // DOCKER_CONFIG the CLI uses for this target
}

// StartVCH runs `vic-machine create`, reads the DOCKER_* exports it prints,
// waits for the API and pushes `vic-machine delete --force`.
func StartVCH(ctx context.Context, log *zap.Logger, stack *Stack, cfg VCHConfig) (*Target, error) {
	if _, err := os.Stat(cfg.VicMachine); err != nil {
		return nil, fmt.Errorf("harness: vic-machine not built (%s): %w", cfg.VicMachine, errdefs.ErrFailedPrecondition)
	}
	for _, d := range []string{cfg.StateDir, cfg.ConfigDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("harness: %w", err)
		}
	}
	stack.Push("remove VCH state dir", func(context.Context) error { return removeTree(cfg.StateDir) })
	stack.Push("vic-machine delete", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, cfg.VicMachine, "delete", "--name", cfg.Name,
			"--state-dir", cfg.StateDir, "--force").CombinedOutput()
		if err != nil {
			return fmt.Errorf("harness: vic-machine delete: %s: %w", strings.TrimSpace(string(out)), err)
		}
		return nil
	})
	args := append([]string{"create", "--name", cfg.Name, "--state-dir", cfg.StateDir,
		"--bind", "127.0.0.1", "--api-port", strconv.Itoa(cfg.APIPort)}, cfg.ExtraArgs...)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, cfg.VicMachine, args...)
	logPath := filepath.Join(cfg.StateDir, "vic-machine-create.log")
	stderr, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("harness: vic-machine %s: %w (log %s)", strings.Join(args, " "), err, logPath)
	}
	exports := ParseExports(string(out))
	if exports["DOCKER_HOST"] == "" {
		return nil, fmt.Errorf("harness: vic-machine create printed no DOCKER_HOST: %q", out)
	}
	env := []string{"DOCKER_CONFIG=" + cfg.ConfigDir, "DOCKER_CONTEXT=",
		"DOCKER_HOST=" + exports["DOCKER_HOST"],
		"DOCKER_TLS_VERIFY=" + exports["DOCKER_TLS_VERIFY"],
		"DOCKER_CERT_PATH=" + exports["DOCKER_CERT_PATH"]}
	api, err := newAPI(env)
	if err != nil {
		return nil, err
	}
	stack.Push("close vch client", func(context.Context) error { return api.Close() })
	if err := poll(ctx, nil, 2*time.Minute, func(ctx context.Context) error {
		_, err := api.Ping(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("harness: vch API: %w", err)
	}
	t := &Target{Name: report.VCH, Env: env, API: api, StateDir: cfg.StateDir,
		DaemonPid: func() (int, error) { return vchdPid(filepath.Join(cfg.StateDir, cfg.Name), cfg.StateDir) }}
	if v, err := api.ServerVersion(ctx); err == nil {
		t.Version = v.Version
	}
	log.Info("VCH up", zap.String("name", cfg.Name), zap.String("host", exports["DOCKER_HOST"]))
	return t, nil
}

// ParseExports reads `export K=V` lines (values optionally quoted) as
// printed by vic-machine create; other lines are ignored.
func ParseExports(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		for _, kv := range shellWords(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
	}
	return m
}

// shellWords splits s at blanks outside quotes and removes the quotes
// (single quotes literal, double quotes with backslash escapes).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'' && c == '\'':
			quote = 0
		case quote == '"' && c == '"':
			quote = 0
		case quote == '"' && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// vchdPid reads vchd's pidfile in the VCH's directory (vic-machine writes
// it) and checks that it is a vchd; failing that it looks for a vchd whose
// command line names the state dir.
func vchdPid(root, stateDir string) (int, error) {
	if b, err := os.ReadFile(filepath.Join(root, "vchd.pid")); err == nil {
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil {
			if c, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); err == nil && strings.TrimSpace(string(c)) == "vchd" {
				return pid, nil
			}
		}
	}
	return findProc("vchd", stateDir)
}

// findProc returns the pid of the process named comm whose command line
// mentions marker (the VCH's state dir).
func findProc(comm, marker string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("harness: %w", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(c)) != comm {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), marker) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("harness: no %s process for %s: %w", comm, marker, errdefs.ErrNotFound)
}
