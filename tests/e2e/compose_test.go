package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// composeV2Binary is where scripts/build-compose.sh caches Compose v2.
const composeV2Binary = "/var/cache/vch/compose/docker-compose-v2.40.3"

// composeImages are the app images of the compose tests, pushed to the
// suite's registry once.
var composeImages struct {
	once              sync.Once
	err               error
	web, app, redis   string
	plainWeb, plainBB string
}

// proxyConf makes nginx a reverse proxy to the app service by its name.
const proxyConf = `daemon off;
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 80;
        location / { proxy_pass http://app:8080; }
    }
}
`

const plainConf = `daemon off;
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 80; root /usr/share/nginx/html; }
}
`

func composeSetup(t *testing.T) {
	t.Helper()
	composeImages.once.Do(func() {
		ctx := context.Background()
		push := func(repo string, img *fixture.Image, err error) string {
			if composeImages.err != nil {
				return ""
			}
			if err != nil {
				composeImages.err = fmt.Errorf("%s: %w", repo, err)
				return ""
			}
			if err := env.registry.Push(ctx, repo, "latest", img); err != nil {
				composeImages.err = fmt.Errorf("push %s: %w", repo, err)
				return ""
			}
			return env.registry.Addr + "/" + repo + ":latest"
		}
		img, err := fixture.NginxImage(fixture.DebRoot, proxyConf, nil)
		composeImages.web = push("compose/web", img, err)
		img, err = fixture.NginxImage(fixture.DebRoot, plainConf, map[string][]byte{"index.html": []byte("hello from compose\n")})
		composeImages.plainWeb = push("compose/plainweb", img, err)
		img, err = fixture.AppImage(fixture.DebRoot)
		composeImages.app = push("compose/app", img, err)
		img, err = fixture.RedisImage(fixture.DebRoot)
		composeImages.redis = push("compose/redis", img, err)
		composeImages.plainBB = env.busybox
		if composeImages.err == nil {
			composeImages.err = installComposePlugin()
		}
	})
	if composeImages.err != nil {
		t.Fatalf("compose setup: %v (scripts/setup.sh fetches the Debian packages and builds Compose v2)", composeImages.err)
	}
}

// installComposePlugin puts Compose v2 where the docker CLI of the
// suite's DOCKER_CONFIG finds it.
func installComposePlugin() error {
	b, err := os.ReadFile(composeV2Binary)
	if err != nil {
		return err
	}
	dir := filepath.Join(env.config, "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "docker-compose"), b, 0o755)
}

// composeCLI runs one compose line in a project directory.
type composeCLI struct {
	name    string // v1 or v2
	dir     string
	project string
}

// composeVersions are the two compose lines a user has: Debian's
// docker-compose 1.29 (Python) and the Compose v2 CLI plugin.
func composeVersions(t *testing.T, project string) []composeCLI {
	return []composeCLI{{name: "v1", dir: t.TempDir(), project: project + "1"}, {name: "v2", dir: t.TempDir(), project: project + "2"}}
}

func (c composeCLI) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	base := []string{"-p", c.project}
	if c.name == "v1" {
		cmd = exec.CommandContext(ctx, "docker-compose", append(base, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "docker", append([]string{"compose"}, append(base, args...)...)...)
	}
	cmd.Dir, cmd.Env = c.dir, c.environ()
	killGroupOnCancel(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("compose %s %v: %v", c.name, args, err)
	}
	return r
}

// environ is the seed's environment: the docker lines vic-machine prints
// plus COMPOSE_TLS_VERSION. Python's requests would verify against
// REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE instead of DOCKER_CERT_PATH (see
// FIELD-NOTES), and a user's machine normally sets neither. Compose v1
// gives each API call COMPOSE_HTTP_TIMEOUT (60 s by default); a start
// returns once the container's VM has booted, which under TCG on a
// loaded host with several starts at once can approach that, so the
// tests raise it as the README tells such users to.
func (c composeCLI) environ() []string {
	var e []string
	for _, kv := range dockerEnv() {
		if !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") && !strings.HasPrefix(kv, "CURL_CA_BUNDLE=") && !strings.HasPrefix(kv, "COMPOSE_") {
			e = append(e, kv)
		}
	}
	return append(e, composeEnv...)
}

// composeEnv is what the compose tests add to the docker lines.
var composeEnv = []string{"COMPOSE_TLS_VERSION=TLSv1_2", "COMPOSE_INTERACTIVE_NO_CLI=1", "COMPOSE_HTTP_TIMEOUT=600"}

func (c composeCLI) must(t *testing.T, args ...string) string {
	t.Helper()
	r := c.run(t, args...)
	if r.Exit != 0 {
		t.Fatalf("compose %s %s: %s", c.name, strings.Join(args, " "), r)
	}
	return r.Stdout
}

func (c composeCLI) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// projectContainers lists the project's containers (all states) by name.
func projectContainers(t *testing.T, project string) []string {
	t.Helper()
	out := mustDocker(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+project, "--format", "{{.Names}} {{.State}}")
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			names = append(names, l)
		}
	}
	return names
}

// httpGet polls url until it answers 200 and returns the body.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			last = fmt.Sprintf("%s: %s", resp.Status, b)
		} else {
			last = err.Error()
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered 200: %s", url, last)
	return ""
}

// TestComposeSeedWalkthrough: the seed's compose slides, verbatim, with
// both compose lines: up -d, ps, stop, down, pull + down + up -d, and
// up --scale to 3 and back to 1.
func TestComposeSeedWalkthrough(t *testing.T) {
	composeSetup(t)
	for _, c := range composeVersions(t, "seed") {
		t.Run(c.name, func(t *testing.T) {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			c.write(t, "docker-compose.yml", fmt.Sprintf(`version: "2.4"
services:
  web:
    image: %s
    ports:
      - "%d:80"
  worker:
    image: %s
    command: ["sleep", "600"]
`, composeImages.plainWeb, port, composeImages.plainBB))
			t.Cleanup(func() { c.run(t, "down", "-v", "--remove-orphans") })

			c.must(t, "up", "-d")
			if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello from compose\n" {
				t.Fatalf("web: %q", body)
			}
			ps := c.must(t, "ps")
			for _, svc := range []string{"web", "worker"} {
				if !strings.Contains(ps, c.project+"_"+svc+"_1") && !strings.Contains(ps, c.project+"-"+svc+"-1") {
					t.Fatalf("ps lacks %s:\n%s", svc, ps)
				}
			}
			if !strings.Contains(ps, "Up") && !strings.Contains(ps, "running") {
				t.Fatalf("ps shows nothing running:\n%s", ps)
			}

			c.must(t, "stop")
			for _, l := range projectContainers(t, c.project) {
				if !strings.HasSuffix(l, " exited") {
					t.Fatalf("after stop: %s", l)
				}
			}
			c.must(t, "down")
			if left := projectContainers(t, c.project); len(left) != 0 {
				t.Fatalf("after down: %q", left)
			}
			if r := docker(t, "network", "inspect", c.project+"_default"); r.Exit == 0 {
				t.Fatalf("down left the project network: %s", r.Stdout)
			}

			c.must(t, "pull")
			c.must(t, "down")
			c.must(t, "up", "-d")
			httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))

			c.must(t, "up", "--scale", "worker=3", "-d")
			if n := len(projectContainers(t, c.project)); n != 4 {
				t.Fatalf("scale to 3: %d containers: %q", n, projectContainers(t, c.project))
			}
			c.must(t, "up", "--scale", "worker=1", "-d")
			if n := len(projectContainers(t, c.project)); n != 2 {
				t.Fatalf("scale back to 1: %q", projectContainers(t, c.project))
			}
			c.must(t, "down")
			if left := projectContainers(t, c.project); len(left) != 0 {
				t.Fatalf("after the last down: %q", left)
			}
		})
	}
}

// TestComposeApp: a realistic three-service app with both compose lines:
// nginx proxying to an app service that counts hits in redis, reached by
// service name; redis's data on a named volume that survives down/up and
// goes with down -v; a custom network beside the project's default; a
// healthcheck gating the app's start; environment from .env; ports. And
// the everyday commands: ps, logs, exec, run --rm, top, config, restart,
// stop/start.
func TestComposeApp(t *testing.T) {
	composeSetup(t)
	for _, c := range composeVersions(t, "app") {
		t.Run(c.name, func(t *testing.T) {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			c.write(t, ".env", "GREETING=hi-from-dotenv\n")
			c.write(t, "docker-compose.yml", fmt.Sprintf(`version: "2.4"
services:
  web:
    image: %s
    ports:
      - "%d:80"
    networks: [front]
    depends_on: [app]
  app:
    image: %s
    environment:
      GREETING: ${GREETING}
      REDIS_HOST: cache
    networks: [front, default]
    depends_on:
      cache:
        condition: service_healthy
  cache:
    image: %s
    volumes:
      - redisdata:/data
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 2s
      timeout: 10s
      retries: 60
networks:
  front: {}
volumes:
  redisdata: {}
`, composeImages.web, port, composeImages.app, composeImages.redis))
			t.Cleanup(func() { c.run(t, "down", "-v", "--remove-orphans") })

			start := time.Now()
			c.must(t, "up", "-d")
			t.Logf("compose %s up -d of web+app+cache: %.1f s (cache healthy, app and web started)", c.name, time.Since(start).Seconds())
			url := fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/hits", port)
			// The app answers 200 even when its redis-cli fails (after a
			// stop and start it may answer before the cache does); a
			// failed increment counts nothing, so poll past it.
			counted := regexp.MustCompile(`hits=[0-9]+$`)
			hits := func(want int) {
				t.Helper()
				body := httpGet(t, url)
				for deadline := time.Now().Add(2 * time.Minute); !counted.MatchString(strings.TrimSpace(body)) && time.Now().Before(deadline); {
					time.Sleep(time.Second)
					body = httpGet(t, url)
				}
				if !strings.HasPrefix(body, "hi-from-dotenv from ") || !strings.HasSuffix(strings.TrimSpace(body), fmt.Sprintf("hits=%d", want)) {
					t.Fatalf("GET %s: %q, want hits=%d", url, body, want)
				}
			}
			hits(1)
			hits(2)

			if ps := c.must(t, "ps"); !strings.Contains(ps, "healthy") {
				t.Fatalf("ps does not show the cache healthy:\n%s", ps)
			}
			if out := c.must(t, "logs", "cache"); !strings.Contains(out, "Ready to accept connections") {
				t.Fatalf("logs cache:\n%s", out)
			}
			if out := c.must(t, "exec", "-T", "cache", "redis-cli", "get", "hits"); strings.TrimSpace(out) != "2" {
				t.Fatalf("exec: %q", out)
			}
			if out := c.must(t, "run", "--rm", "app", "redis-cli", "-h", "cache", "get", "hits"); !strings.Contains(out, "2") {
				t.Fatalf("run --rm: %q", out)
			}
			if out := c.must(t, "top", "cache"); !strings.Contains(out, "redis-server") {
				t.Fatalf("top:\n%s", out)
			}
			if out := c.must(t, "config"); !strings.Contains(out, "hi-from-dotenv") {
				t.Fatalf("config does not resolve .env:\n%s", out)
			}
			c.must(t, "restart", "app")
			hits(3)
			c.must(t, "stop")
			c.must(t, "start")
			hits(4)

			// The named volume keeps redis's data across down and up.
			c.must(t, "down")
			c.must(t, "up", "-d")
			hits(5)
			c.must(t, "down", "-v")
			if out := mustDocker(t, "volume", "ls", "-q", "--filter", "name="+c.project+"_redisdata"); strings.TrimSpace(out) != "" {
				t.Fatalf("down -v left the volume: %q", out)
			}
			if left := projectContainers(t, c.project); len(left) != 0 {
				t.Fatalf("after down -v: %q", left)
			}
		})
	}
}
