package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dockerAt runs docker with dir as its working directory.
func dockerAt(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = dockerEnv()
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// TestSeedDemo is the seed's stateful-container workflow, verbatim: a
// file copied into a volume of a stopped container is there for the next
// container.
func TestSeedDemo(t *testing.T) {
	img := pulled(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local-file"), []byte("cargo from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "volume", "create", "--opt", "VolumeStore=default", "--opt", "Capacity=1G", "--name", "hello1")
	defer docker(t, "volume", "rm", "-f", "hello1")
	defer docker(t, "rm", "-f", "truck")
	mustDocker(t, "run", "-d", "-v", "hello1:/stuff", "--name", "truck", img)
	// The image's sh has no stdin and ends at once, but in its own time:
	// wait for it, so that cp and rm see the stopped container the seed's
	// workflow is about rather than one still exiting.
	if code := strings.TrimSpace(mustDocker(t, "wait", "truck")); code != "0" {
		t.Fatalf("docker wait truck: exit %s", code)
	}
	if s := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}}", "truck")); s != "exited" {
		t.Fatalf("truck after docker wait: %q", s)
	}
	if r := dockerAt(t, dir, "cp", "./local-file", "truck:/stuff/dest-file"); r.Exit != 0 {
		t.Fatalf("docker cp: %s", r)
	}
	mustDocker(t, "rm", "truck")
	r := dockerIn(t, "\n", "run", "-i", "-v", "hello1:/stuff", "--rm", img, "cat", "/stuff/dest-file")
	if r.Exit != 0 || r.Stdout != "cargo from the host\n" {
		t.Fatalf("the next container reads: %s", r)
	}
	mustDocker(t, "volume", "rm", "hello1")
}

// TestCpRunningContainer: directories in and out, -a, -L, "-" both ways,
// docker's error for a missing path, into a volume and the layer.
func TestCpRunningContainer(t *testing.T) {
	vol := uniqueName(t)
	mustDocker(t, "volume", "create", "--name", vol)
	defer docker(t, "volume", "rm", "-f", vol)
	name, _ := runningContainer(t, "-v", vol+":/vol")
	cpChecks(t, name, "/tmp")
	cpChecks(t, name, "/vol")

	// -a keeps the owner; without it root owns the copy.
	dir := t.TempDir()
	f := filepath.Join(dir, "owned")
	os.WriteFile(f, []byte("x"), 0o600)
	if err := os.Chown(f, 1234, 4321); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", f, name+":/tmp/plain")
	mustDocker(t, "cp", "-a", f, name+":/tmp/archived")
	if got := mustDocker(t, "exec", name, "stat", "-c", "%u:%g %a", "/tmp/plain", "/tmp/archived"); got != "0:0 600\n1234:4321 600\n" {
		t.Fatalf("owners: %q", got)
	}

	// -L follows a symlink in the container; without it the link is copied.
	mustDocker(t, "exec", name, "sh", "-c", "echo target > /tmp/t; ln -s /tmp/t /tmp/l")
	mustDocker(t, "cp", name+":/tmp/l", filepath.Join(dir, "link"))
	if tgt, err := os.Readlink(filepath.Join(dir, "link")); err != nil || tgt != "/tmp/t" {
		t.Fatalf("cp of a symlink: %q %v", tgt, err)
	}
	mustDocker(t, "cp", "-L", name+":/tmp/l", filepath.Join(dir, "followed"))
	if b, err := os.ReadFile(filepath.Join(dir, "followed")); err != nil || string(b) != "target\n" {
		t.Fatalf("cp -L: %q %v", b, err)
	}

	// Missing paths: docker's 404 both ways.
	r := docker(t, "cp", name+":/no/such", dir)
	if r.Exit == 0 || !(strings.Contains(r.Stderr, "Could not find the file /no/such in container") || strings.Contains(r.Stderr, "No such container:path")) {
		t.Fatalf("cp of a missing path: %s", r)
	}
	r = docker(t, "cp", f, name+":/no/such/dir/")
	if r.Exit == 0 {
		t.Fatalf("cp into a missing directory: %s", r)
	}
}

// cpChecks copies a tree into dest in container name and back, through
// files and through "-".
func cpChecks(t *testing.T, name, dest string) {
	t.Helper()
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "a.txt"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "sub", "b.txt"), []byte("beta\n"), 0o640)
	os.Symlink("a.txt", filepath.Join(tree, "link"))
	mustDocker(t, "cp", tree, name+":"+dest+"/")
	if got := mustDocker(t, "exec", name, "sh", "-c", "cat "+dest+"/tree/a.txt "+dest+"/tree/sub/b.txt; readlink "+dest+"/tree/link; stat -c %a "+dest+"/tree/sub/b.txt"); got != "alpha\nbeta\na.txt\n640\n" {
		t.Fatalf("in the container: %q", got)
	}
	out := t.TempDir()
	mustDocker(t, "cp", name+":"+dest+"/tree", out)
	if b, err := os.ReadFile(filepath.Join(out, "tree", "sub", "b.txt")); err != nil || string(b) != "beta\n" {
		t.Fatalf("copied out: %q %v", b, err)
	}
	if tgt, _ := os.Readlink(filepath.Join(out, "tree", "link")); tgt != "a.txt" {
		t.Fatalf("symlink copied out as %q", tgt)
	}
	// "-": a tar on stdout, and one from stdin.
	r := docker(t, "cp", name+":"+dest+"/tree/sub", "-")
	if r.Exit != 0 {
		t.Fatalf("cp to -: %s", r)
	}
	if got := tarNames(t, []byte(r.Stdout)); !strings.Contains(got, "sub/b.txt") {
		t.Fatalf("tar on stdout holds %s", got)
	}
	in := buildTar(t, []tarEntry{{name: "fromstdin/", typ: tar.TypeDir}, {name: "fromstdin/c.txt", body: "gamma\n"}})
	if r := dockerIn(t, string(in), "cp", "-", name+":"+dest); r.Exit != 0 {
		t.Fatalf("cp from -: %s", r)
	}
	if got := mustDocker(t, "exec", name, "cat", dest+"/fromstdin/c.txt"); got != "gamma\n" {
		t.Fatalf("extracted from stdin: %q", got)
	}
}

// TestCpStoppedContainerAndDiff: cp both ways on a stopped container (its
// process never runs for it), the files are there at the next start, and
// docker diff lists them without vch's own /etc files.
func TestCpStoppedContainerAndDiff(t *testing.T) {
	name, _ := runningContainer(t)
	mustDocker(t, "exec", name, "sh", "-c", "echo one > /tmp/while-running; rm /etc/group")
	mustDocker(t, "kill", name)
	poll(t, "the container to stop", func() bool { return !inspect(t, name).State.Running })
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("copied while stopped\n"), 0o644)
	mustDocker(t, "cp", filepath.Join(dir, "f"), name+":/root/f")
	mustDocker(t, "cp", name+":/tmp/while-running", filepath.Join(dir, "out"))
	if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "one\n" {
		t.Fatalf("copied out of a stopped container: %q %v", b, err)
	}
	if st := inspect(t, name).State; st.Running || st.ExitCode != 137 {
		t.Fatalf("cp changed the state: %+v", st)
	}
	diff := mustDocker(t, "diff", name)
	for _, want := range []string{"A /root/f", "C /root", "A /tmp/while-running", "C /tmp", "D /etc/group", "C /etc"} {
		if !strings.Contains(diff+"\n", want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	for _, hidden := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if strings.Contains(diff, hidden) {
			t.Errorf("diff shows %s:\n%s", hidden, diff)
		}
	}
	mustDocker(t, "start", name)
	if got := mustDocker(t, "exec", name, "cat", "/root/f"); got != "copied while stopped\n" {
		t.Fatalf("after start: %q", got)
	}
	// diff of a running container reads the same layer.
	if d := mustDocker(t, "diff", name); !strings.Contains(d, "A /root/f\n") || strings.Contains(d, "/etc/hosts") {
		t.Fatalf("diff while running:\n%s", d)
	}
}

// TestCpHostileArchive: archives that try to leave the destination are
// refused with a clear error and leave nothing behind; an absolute path or
// a symlink to / stays inside the container's root. Running and stopped.
func TestCpHostileArchive(t *testing.T) {
	name, _ := runningContainer(t)
	mustDocker(t, "exec", name, "mkdir", "-p", "/tmp/target/deep")
	hostile := []struct {
		what    string
		entries []tarEntry
		msg     string
	}{
		{"dot-dot", []tarEntry{{name: "ok.txt", body: "ok"}, {name: "../../../../escaped", body: "x"}}, "is outside of"},
		{"relative symlink out", []tarEntry{{name: "ok.txt", body: "ok"}, {name: "up", typ: tar.TypeSymlink, link: "../../../../../"}, {name: "up/escaped", body: "x"}}, "invalid symlink"},
		{"hard link out", []tarEntry{{name: "h", typ: tar.TypeLink, link: "../../../etc/passwd"}}, "invalid hardlink"},
	}
	for _, h := range hostile {
		r := dockerIn(t, string(buildTar(t, h.entries)), "cp", "-", name+":/tmp/target/deep")
		if r.Exit == 0 || !strings.Contains(r.Stderr, h.msg) {
			t.Errorf("%s: %s", h.what, r)
		}
	}
	trunc := buildTar(t, []tarEntry{{name: "partial.txt", body: "p"}, {name: "big", body: strings.Repeat("y", 100000)}})
	if r := dockerIn(t, string(trunc[:len(trunc)-60000]), "cp", "-", name+":/tmp/target/deep"); r.Exit == 0 {
		t.Errorf("truncated archive accepted: %s", r)
	}
	if got := mustDocker(t, "exec", name, "sh", "-c", "ls -A /tmp/target/deep; ls /escaped /tmp/escaped /tmp/target/escaped 2>&1 | grep -c 'No such file'"); got != "3\n" {
		t.Fatalf("left behind or escaped: %q", got)
	}
	// Absolute names and a symlink to / are confined to the container.
	conf := buildTar(t, []tarEntry{{name: "/abs.txt", body: "abs"}, {name: "root", typ: tar.TypeSymlink, link: "/"}, {name: "root/through-link", body: "through"}})
	if r := dockerIn(t, string(conf), "cp", "-", name+":/tmp/target"); r.Exit != 0 {
		t.Fatalf("confined archive: %s", r)
	}
	if got := mustDocker(t, "exec", name, "cat", "/tmp/target/abs.txt", "/through-link"); got != "absthrough" {
		t.Fatalf("confined archive landed: %q", got)
	}
	// The same refusal on a stopped container.
	mustDocker(t, "kill", name)
	poll(t, "the container to stop", func() bool { return !inspect(t, name).State.Running })
	r := dockerIn(t, string(buildTar(t, hostile[0].entries)), "cp", "-", name+":/tmp/target/deep")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "is outside of") {
		t.Fatalf("stopped: %s", r)
	}
	r = docker(t, "cp", name+":/tmp/target/deep", "-")
	if r.Exit != 0 || tarNames(t, []byte(r.Stdout)) != "deep/" {
		t.Fatalf("stopped: left behind: %s", tarNames(t, []byte(r.Stdout)))
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
}

func buildTar(t *testing.T, es []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, ModTime: time.Now()}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarNames lists a tar's entry names, space separated.
func tarNames(t *testing.T, b []byte) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, " ")
}

// TestContainerSizes: ps -s and inspect --size show the writable layer's
// size, live while running and as measured at the last stop after.
func TestContainerSizes(t *testing.T) {
	name, _ := runningContainer(t)
	mustDocker(t, "exec", name, "sh", "-c", "head -c 3000000 /dev/zero > /tmp/blob")
	sizeRw := func() int64 {
		var vs []struct{ SizeRw, SizeRootFs *int64 }
		if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--size", name)), &vs); err != nil || len(vs) != 1 || vs[0].SizeRw == nil || vs[0].SizeRootFs == nil {
			t.Fatalf("inspect --size: %v %+v", err, vs)
		}
		v := vs[0]
		if *v.SizeRootFs <= *v.SizeRw {
			t.Fatalf("SizeRootFs %d not above SizeRw %d", *v.SizeRootFs, *v.SizeRw)
		}
		return *v.SizeRw
	}
	if n := sizeRw(); n < 3000000 || n > 3100000 {
		t.Fatalf("SizeRw while running: %d", n)
	}
	if got := mustDocker(t, "ps", "-s", "--filter", "name="+name, "--format", "{{.Size}}"); !strings.HasPrefix(got, "3MB (virtual ") {
		t.Fatalf("ps -s: %q", got)
	}
	mustDocker(t, "kill", name)
	poll(t, "the container to stop", func() bool { return !inspect(t, name).State.Running })
	if n := sizeRw(); n < 3000000 || n > 3100000 {
		t.Fatalf("SizeRw after stop: %d", n)
	}
}

// TestCpLargeFileStreams: 300 MB in and out of a running container
// arrive intact, and vchd's peak memory grows by less than half the
// file's size (it streams, it does not hold the file; a vchd that held
// it would grow by all of it).
func TestCpLargeFileStreams(t *testing.T) {
	const size = 300 << 20
	name, _ := runningContainer(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "blob")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sum := hex.EncodeToString(h.Sum(nil))

	pidB, err := os.ReadFile(filepath.Join(env.vchRoot, "vchd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(pidB))
	peak := func() int64 {
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n << 10
			}
		}
		t.Fatal("no VmHWM")
		return 0
	}
	resetPeak := func() int64 {
		// 5 resets the peak resident set size (proc(5), clear_refs).
		if err := os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0); err != nil {
			t.Fatal(err)
		}
		return peak()
	}
	const slack = 150 << 20
	before := resetPeak()
	if r := dockerLong(t, "cp", src, name+":/tmp/blob"); r.Exit != 0 {
		t.Fatalf("cp in: %s", r)
	}
	grew := peak() - before
	if grew > slack {
		t.Errorf("vchd's peak memory grew by %d MB copying %d MB in", grew>>20, size>>20)
	}
	t.Logf("vchd's peak memory grew by %d MB copying %d MB in", grew>>20, size>>20)
	if got := mustDocker(t, "exec", name, "md5sum", "/tmp/blob"); !strings.HasPrefix(got, sum+" ") {
		t.Fatalf("in the container: %q, want %s", got, sum)
	}
	before = resetPeak()
	out := filepath.Join(dir, "out")
	if r := dockerLong(t, "cp", name+":/tmp/blob", out); r.Exit != 0 {
		t.Fatalf("cp out: %s", r)
	}
	grew = peak() - before
	if grew > slack {
		t.Errorf("vchd's peak memory grew by %d MB copying %d MB out", grew>>20, size>>20)
	}
	t.Logf("vchd's peak memory grew by %d MB copying %d MB out", grew>>20, size>>20)
	g, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h.Reset()
	io.Copy(h, g)
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		t.Fatalf("copied out: md5 %s, want %s", got, sum)
	}
}

// dockerLong runs docker with a generous bound (large copies under TCG).
func dockerLong(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = dockerEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	t.Logf("docker %s took %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// TestCpIntoCreatedContainer: the usual "create, cp the config in, start"
// pattern works on a container that never ran.
func TestCpIntoCreatedContainer(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "create", "--name", name, img, "cat", "/etc/app.conf")
	defer docker(t, "rm", "-f", name)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.conf"), []byte("setting=1\n"), 0o644)
	mustDocker(t, "cp", filepath.Join(dir, "app.conf"), name+":/etc/app.conf")
	if st := inspect(t, name).State.Status; st != "created" {
		t.Fatalf("state after cp: %s", st)
	}
	if got := mustDocker(t, "start", "-a", name); got != "setting=1\n" {
		t.Fatalf("start -a: %q", got)
	}
}
