package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// composeFollow starts a following compose command (logs -f, events) and
// returns a function that polls its output for a line matching want. The
// command, with the Compose v2 plugin the docker CLI runs, is killed when
// the test ends.
func (c composeCLI) follow(t *testing.T, args ...string) (has func(want func(line string) bool) bool, wait func(what string, want func(line string) bool)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var cmd *exec.Cmd
	base := []string{"-p", c.project}
	if c.name == "v1" {
		cmd = exec.CommandContext(ctx, "docker-compose", append(base, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "docker", append([]string{"compose"}, append(base, args...)...)...)
	}
	cmd.Dir, cmd.Env = c.dir, c.environ()
	killGroupOnCancel(cmd)
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &errb
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	go func() { _ = cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { cancel(); <-done })
	has = func(want func(string) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(lines, want)
	}
	wait = func(what string, want func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			mu.Lock()
			for _, l := range lines {
				if want(l) {
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
			select {
			case <-done:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("compose %s %v ended before %s:\n%s\nstderr: %s", c.name, args, what, strings.Join(lines, "\n"), errb.String())
			case <-time.After(300 * time.Millisecond):
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("compose %s %v: no %s within 3 minutes:\n%s\nstderr: %s", c.name, args, what, strings.Join(lines, "\n"), errb.String())
	}
	return has, wait
}

// serviceContainer is the ID and name of a service's container number 1.
func serviceContainer(t *testing.T, project, service string) (id, name string) {
	t.Helper()
	out := strings.TrimSpace(mustDocker(t, "ps", "-a", "--no-trunc", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service, "--filter", "label=com.docker.compose.oneoff=False", "--format", "{{.ID}} {{.Names}}"))
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("containers of service %s: %q", service, out)
	}
	return f[0], f[1]
}

// apiNames lists the names of the containers GET /containers/json returns
// for a raw filters parameter.
func apiNames(t *testing.T, filters string) []string {
	t.Helper()
	var cs []struct{ Names []string }
	if code := getJSON(t, "/containers/json?all=1&filters="+url.QueryEscape(filters), &cs); code != 200 {
		t.Fatalf("filters %s: status %d", filters, code)
	}
	var names []string
	for _, c := range cs {
		names = append(names, strings.TrimPrefix(c.Names[0], "/"))
	}
	sort.Strings(names)
	return names
}

// TestComposeConventions, with both compose lines: container names and
// the com.docker.compose.* labels, the label filter in both JSON shapes
// (compose v1 sends the list, v2 the map), network aliases per service,
// logs -f following, the events compose follows, and recreating exactly
// the service whose configuration changed.
func TestComposeConventions(t *testing.T) {
	composeSetup(t)
	for _, c := range composeVersions(t, "conv") {
		t.Run(c.name, func(t *testing.T) {
			file := func(level string) string {
				return fmt.Sprintf(`version: "2.4"
services:
  db:
    image: %[1]s
    command: ["sleep", "600"]
    environment:
      LEVEL: %[2]s
    networks:
      back:
        aliases: [database]
  client:
    image: %[1]s
    command: ["sh", "-c", "i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 1; done"]
    networks: [back]
networks:
  back: {}
`, composeImages.plainBB, level)
			}
			c.write(t, "docker-compose.yml", file("one"))
			t.Cleanup(func() { c.run(t, "down", "-v", "--remove-orphans") })
			c.must(t, "up", "-d")

			sep := "_"
			if c.name == "v2" {
				sep = "-"
			}
			dbID, dbName := serviceContainer(t, c.project, "db")
			clientID, clientName := serviceContainer(t, c.project, "client")
			if want := c.project + sep + "db" + sep + "1"; dbName != want {
				t.Fatalf("db container is %q, want %q", dbName, want)
			}
			var labels map[string]string
			if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .Config.Labels}}", dbName)), &labels); err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"com.docker.compose.project": c.project, "com.docker.compose.service": "db",
				"com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"} {
				if labels[k] != v {
					t.Fatalf("label %s = %q, want %q (all: %v)", k, labels[k], v, labels)
				}
			}
			if labels["com.docker.compose.config-hash"] == "" {
				t.Fatalf("no config-hash label: %v", labels)
			}

			// Both JSON shapes of the label filter select the same containers.
			both := []string{clientName, dbName}
			sort.Strings(both)
			proj := "com.docker.compose.project=" + c.project
			for _, f := range []string{`{"label":{"` + proj + `":true}}`, `{"label":["` + proj + `"]}`} {
				if got := apiNames(t, f); strings.Join(got, " ") != strings.Join(both, " ") {
					t.Fatalf("filters %s: %q, want %q", f, got, both)
				}
			}
			for _, f := range []string{`{"label":{"` + proj + `":true,"com.docker.compose.service=db":true}}`, `{"label":["` + proj + `","com.docker.compose.service=db"]}`} {
				if got := apiNames(t, f); strings.Join(got, " ") != dbName {
					t.Fatalf("filters %s: %q, want %q", f, got, dbName)
				}
			}

			// The alias and the service name resolve to db's address on back.
			dbIP := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{(index .NetworkSettings.Networks \""+c.project+"_back\").IPAddress}}", dbName))
			if dbIP == "" {
				t.Fatal("db has no address on the back network")
			}
			for _, n := range []string{"database", "db"} {
				if out := c.must(t, "exec", "-T", "client", "nslookup", "-type=a", n); !strings.Contains(out, dbIP) {
					t.Fatalf("nslookup %s from client: %q, want %s", n, out, dbIP)
				}
			}

			// logs -f follows: it shows ticks printed after it started.
			tick := regexp.MustCompile(`tick (\d+)\s*$`)
			last := 0
			for _, l := range strings.Split(c.must(t, "logs", "--no-color", "client"), "\n") {
				if m := tick.FindStringSubmatch(l); m != nil {
					n, _ := strconv.Atoi(m[1])
					last = max(last, n)
				}
			}
			_, wait := c.follow(t, "logs", "-f", "--no-color", "client")
			wait(fmt.Sprintf("tick %d", last+3), func(l string) bool {
				m := tick.FindStringSubmatch(l)
				n := 0
				if m != nil {
					n, _ = strconv.Atoi(m[1])
				}
				return n >= last+3
			})

			// Recreate on config change: only db, and compose's events
			// follower sees db's new container start.
			seen, events := c.follow(t, "events", "--json")
			isEvent := func(action, service, id string) func(string) bool {
				return func(l string) bool {
					var e struct{ Action, Service, ID string }
					return json.Unmarshal([]byte(l), &e) == nil && e.Action == action && e.Service == service && (id == "" || e.ID == id)
				}
			}
			// The follower is subscribed once it reports a signal sent
			// after it started (SIGWINCH: the shell ignores it).
			poll(t, "compose events reporting a kill -s WINCH", func() bool {
				mustDocker(t, "kill", "-s", "WINCH", clientName)
				return seen(isEvent("kill", "client", clientID))
			})
			c.write(t, "docker-compose.yml", file("two"))
			c.must(t, "up", "-d")
			newDB, _ := serviceContainer(t, c.project, "db")
			if newDB == dbID {
				t.Fatal("db was not recreated after its environment changed")
			}
			if id, _ := serviceContainer(t, c.project, "client"); id != clientID {
				t.Fatal("client was recreated though its configuration did not change")
			}
			if out := c.must(t, "exec", "-T", "db", "sh", "-c", "echo $LEVEL"); strings.TrimSpace(out) != "two" {
				t.Fatalf("LEVEL in the recreated db: %q", out)
			}
			events("db's start event", isEvent("start", "db", newDB))
		})
	}
}

// TestComposeBadInput: compose files asking for what a container VM
// cannot do get the daemon's 501 text in compose's output and a non-zero
// exit, promptly, and leave no container behind.
func TestComposeBadInput(t *testing.T) {
	composeSetup(t)
	cases := []struct{ name, service, want string }{
		{"privileged", `    privileged: true
    devices: ["/dev/fuse:/dev/fuse"]
`, "not supported by a VCH"},
		{"pidhost", `    pid: host
`, "--pid host is not supported by a VCH"},
		{"build", `    build: .
`, "VIC does not build images"},
	}
	for _, c := range composeVersions(t, "bad") {
		t.Run(c.name, func(t *testing.T) {
			for i, tc := range cases {
				c := c
				c.project = fmt.Sprintf("%s%d", c.project, i)
				image := composeImages.plainBB
				if tc.name == "build" {
					// An image that does not exist yet: compose builds it.
					image = env.registry.Addr + "/compose/notbuilt:latest"
					c.write(t, "Dockerfile", "FROM scratch\nCOPY Dockerfile /\n")
				}
				c.write(t, "docker-compose.yml", fmt.Sprintf(`version: "2.4"
services:
  bad:
    image: %s
    command: ["sleep", "600"]
%s`, image, tc.service))
				want := tc.want
				if tc.name == "build" && c.name == "v2" {
					// Compose v2 builds through buildx, whose default
					// builder here is the docker-container driver: it
					// asks the VCH to pull moby/buildkit and run it
					// privileged. The daemon's answer (the pull's error
					// offline, else the privileged 501) is what shows.
					want = "Error response from daemon"
				}
				r := c.run(t, "up", "-d")
				out := r.Stdout + r.Stderr
				if r.Exit == 0 || !strings.Contains(out, want) {
					t.Fatalf("%s: up -d: %s", tc.name, r)
				}
				t.Logf("%s, compose %s: exit %d: %s", tc.name, c.name, r.Exit, lastLines(out, 2))
				if left := projectContainers(t, c.project); len(left) != 0 {
					t.Fatalf("%s: a failed up left containers: %q", tc.name, left)
				}
				c.must(t, "down", "-v")
				if out := mustDocker(t, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+c.project); strings.TrimSpace(out) != "" {
					t.Fatalf("%s: down left the project's networks: %q", tc.name, out)
				}
			}
		})
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}
