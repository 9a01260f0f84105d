//go:build dockerpy

package e2e

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// docker-py's integration tests, from the release Debian ships as
// python3-docker, run against a VCH: `make dockerpy` (tag dockerpy; the
// tests come from a docker-py git checkout, DOCKER_PY_SRC, since no
// package of this machine's sources carries them).
const dockerPyRelease = "5.0.3"

var dockerPyFiles = []string{
	"tests/integration/api_container_test.py",
	"tests/integration/api_exec_test.py",
	"tests/integration/models_containers_test.py",
}

// junit is the part of pytest's junit XML the test reads.
type junit struct {
	Suites []struct {
		Cases []struct {
			Class   string    `xml:"classname,attr"`
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestDockerPy runs the files of dockerPyFiles with pytest against a VCH
// whose Docker Hub mirror serves the suite's image (alpine:3.10, here
// busybox under that name). Tests listed in tests/dockerpy/deselect.txt,
// each with its reason, are not run; every other test must pass.
func TestDockerPy(t *testing.T) {
	src := os.Getenv("DOCKER_PY_SRC")
	if src == "" {
		src = "/work/.mirror/docker+docker-py/repo"
	}
	work := t.TempDir()
	archive := exec.Command("sh", "-c", fmt.Sprintf("git --git-dir=%q archive %s tests pytest.ini | tar -x -C %q", src, dockerPyRelease, work))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("docker-py %s tests from %s (set DOCKER_PY_SRC to a docker-py git checkout): %v\n%s", dockerPyRelease, src, err, out)
	}
	img, err := alpineLike()
	if err != nil {
		t.Fatal(err)
	}
	// The API tests use alpine:3.10, the models tests plain alpine.
	for _, tag := range []string{"3.10", "latest"} {
		if err := env.registry.Push(context.Background(), "library/alpine", tag, img); err != nil {
			t.Fatal(err)
		}
	}
	// docker-py's bind tests mount directories from tempfile.mkdtemp():
	// they live under tmp, the VCH's --bind-allow root.
	tmp := filepath.Join(work, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vicMachine("delete", "--name", "e2e-dockerpy", "--force") })
	out, err := vicMachine("create", "--name", "e2e-dockerpy", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--container-memory", "256M", "--registry-mirror", "http://"+env.registry.Addr, "--bind-allow", tmp)
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	ex := parseExports(out)

	args := []string{"-m", "pytest", "-p", "no:cacheprovider", "-p", "vch_dockerpy_plugin", "--junitxml", filepath.Join(work, "junit.xml")}
	deselect, err := readDeselect(filepath.Join(env.repo, "tests", "dockerpy", "deselect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for id := range deselect {
		args = append(args, "--deselect", id)
	}
	files := dockerPyFiles
	if f := os.Getenv("DOCKER_PY_FILES"); f != "" {
		files = strings.Fields(f) // a chunk of the suite, e.g. one module
	}
	args = append(args, files...)
	if k := os.Getenv("DOCKER_PY_K"); k != "" {
		args = append(args, "-k", k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", args...)
	cmd.Dir = work
	var e []string
	for _, kv := range dockerEnv() {
		if !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") && !strings.HasPrefix(kv, "CURL_CA_BUNDLE=") && !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, "DOCKER_CERT_PATH=") {
			e = append(e, kv)
		}
	}
	cmd.Env = append(e, "DOCKER_HOST="+ex["DOCKER_HOST"], "DOCKER_CERT_PATH="+ex["DOCKER_CERT_PATH"], "DOCKER_TLS_VERIFY=1",
		"PYTHONPATH="+filepath.Join(env.repo, "tests", "dockerpy"), "PYTHONDONTWRITEBYTECODE=1", "TMPDIR="+tmp)
	// The images are there before the suite starts, as on a developer's
	// daemon: docker-py's conftest would otherwise pull alpine:3.10 with a
	// stream whose socket requests leaves unclosed, and the
	// ResourceWarning it raises later fails whichever test is running.
	for _, ref := range []string{"alpine:3.10", "alpine:latest"} {
		pull := exec.CommandContext(ctx, "docker", "pull", "-q", ref)
		pull.Env = cmd.Env
		if out, err := pull.CombinedOutput(); err != nil {
			t.Fatalf("docker pull %s: %v\n%s", ref, err, out)
		}
	}
	logPath := os.Getenv("DOCKER_PY_LOG")
	if logPath == "" {
		logPath = filepath.Join(os.TempDir(), "vch-dockerpy.log")
	}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	runErr := cmd.Run()
	b, err := os.ReadFile(filepath.Join(work, "junit.xml"))
	if err != nil {
		t.Fatalf("pytest wrote no report (%v); its output is in %s", runErr, logPath)
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	var passed, skipped int
	var failed []string
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			id := nodeID(c.Class, c.Name)
			switch {
			case c.Failure != nil || c.Error != nil:
				failed = append(failed, id)
			case c.Skipped != nil:
				skipped++
				t.Logf("skipped by docker-py itself: %s: %s", id, c.Skipped.Message)
			default:
				passed++
			}
		}
	}
	t.Logf("docker-py %s: %d passed, %d failed, %d skipped by docker-py, %d deselected (tests/dockerpy/deselect.txt); pytest output: %s",
		dockerPyRelease, passed, len(failed), skipped, len(deselect), logPath)
	if len(failed) > 0 {
		t.Fatalf("failed:\n  %s", strings.Join(failed, "\n  "))
	}
	if passed == 0 {
		t.Fatal("no test passed")
	}
}

// alpineLike is the busybox fixture with alpine 3.10's system accounts
// in /etc/passwd and /etc/group (the suite runs commands as postgres,
// uid 70, which alpine has), alpine's /var/opt (an exec's working
// directory in the suite) and alpine's Cmd.
func alpineLike() (*fixture.Image, error) {
	l, err := fixture.BuildLayer([]fixture.Entry{
		{Path: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/ash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/:/sbin/nologin\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")},
		{Path: "etc/group", Data: []byte("root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nwheel:x:10:root\n" +
			"postgres:x:70:\nnogroup:x:65533:\nnobody:x:65534:\napp:x:1000:\n")},
		{Path: "var/opt", Type: tar.TypeDir, Mode: 0o755},
	})
	if err != nil {
		return nil, err
	}
	return fixture.WithLayer(env.bbImage, fixture.ImageConfig{Cmd: []string{"/bin/sh"}}, l)
}

// readDeselect reads "test-id  # reason" lines; a line without a reason
// is an error, so that every deselected test says why.
func readDeselect(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, ok := strings.Cut(line, "#")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s: %q has no reason", path, line)
		}
		out[strings.TrimSpace(id)] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

// nodeID turns a junit classname and name into pytest's node id, the form
// deselect.txt uses: tests.integration.x_test.Class, name ->
// tests/integration/x_test.py::Class::name.
func nodeID(class, name string) string {
	parts := strings.Split(class, ".")
	for i, p := range parts {
		if strings.HasSuffix(p, "_test") {
			return strings.Join(append([]string{strings.Join(parts[:i+1], "/") + ".py"}, append(parts[i+1:], name)...), "::")
		}
	}
	return class + "::" + name
}
