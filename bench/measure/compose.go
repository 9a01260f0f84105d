package measure

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// composeRunsMax caps the repetitions of the compose figure: one run boots
// three containers and waits for a healthcheck.
const composeRunsMax = 3

// composeFile is the realistic app of the compose e2e tests: nginx
// proxying to a busybox httpd CGI that counts hits in redis (reached by
// service name), redis's data on a named volume, a healthcheck on redis
// gating the app (depends_on: service_healthy), a custom network beside
// the project's default, and a published port.
const composeFile = `services:
  web:
    image: %s
    ports: ["127.0.0.1:%d:80"]
    networks: [front]
    depends_on: [app]
  app:
    image: %s
    environment: {GREETING: bench, REDIS_HOST: cache}
    networks: [front, default]
    depends_on:
      cache: {condition: service_healthy}
  cache:
    image: %s
    volumes: ["redisdata:/data"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 10s
      retries: 120
networks:
  front: {}
volumes:
  redisdata: {}
`

// Compose is measurement 11: `docker compose up -d` (Compose v2) of the
// three-service app, until it returns (redis healthy, app and web
// started) and until a request through nginx's published port has gone
// app → redis and back. The images are pulled first, untimed; every run
// ends with `down -v`.
func Compose() Measurement {
	const sec = "11. Compose"
	return Measurement{
		Name: "compose",
		Define: func(env *Env) {
			env.Report.Define(sec, "compose.up", "`docker compose up -d` of nginx → app → redis (healthcheck, depends_on service_healthy), until it returns, median", "s", report.Lower)
			env.Report.Define(sec, "compose.ready", "the same, until a request through nginx's published port is answered from redis, median", "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			if env.Images.ComposeWeb == "" || env.Compose == "" {
				for _, k := range []string{"compose.up", "compose.ready"} {
					na(env, t, k, "no compose binary or no app images (Debian's nginx and redis packages)")
				}
				return nil
			}
			dir, err := os.MkdirTemp("", "vchbench-compose-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			port := env.PortBase + 10
			if t.Name == report.VCH {
				port++
			}
			yml := fmt.Sprintf(composeFile, env.Images.ComposeWeb, port, env.Images.ComposeApp, env.Images.ComposeRedis)
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yml), 0o644); err != nil {
				return err
			}
			compose := func(ctx context.Context, args ...string) error {
				cmd := exec.CommandContext(ctx, env.Compose, append([]string{"-p", "benchapp"}, args...)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), t.Env...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s: compose %s: %w: %s", t.Name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
				}
				return nil
			}
			down := func() error { return compose(context.WithoutCancel(ctx), "down", "-v", "--remove-orphans") }
			defer func() { _ = down(); _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			if err := compose(ctx, "pull", "-q"); err != nil {
				return err
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/hits", port)
			var ups, readies []time.Duration
			for i := 0; i < min(env.Runs, composeRunsMax) && ctx.Err() == nil; i++ {
				start := time.Now()
				if err := compose(ctx, "up", "-d"); err != nil {
					return err
				}
				ups = append(ups, time.Since(start))
				if err := waitHTTP(ctx, url, 3*time.Minute); err != nil {
					return fmt.Errorf("%s: the app did not answer through nginx: %w", t.Name, err)
				}
				readies = append(readies, time.Since(start))
				if err := down(); err != nil {
					return err
				}
			}
			for key, ds := range map[string][]time.Duration{"compose.up": ups, "compose.ready": readies} {
				xs := stats.Seconds(ds)
				if med, ok := stats.Median(xs); ok {
					setSamples(env, t, key, med, xs)
				}
			}
			return ctx.Err()
		},
	}
}
