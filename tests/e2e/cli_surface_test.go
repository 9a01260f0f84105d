package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// --group-add: numbers and names from the image's /etc/group become
// supplementary groups of the main process and of every exec (as with
// dockerd 20.10: `exec -u app` shows the user's own and the added ones);
// an unknown name fails the start with runc's text.
func TestGroupAdd(t *testing.T) {
	img := pulled(t)
	if r := docker(t, "run", "--rm", "--group-add", "1234", "--group-add", "nogroup", img, "id", "-G"); r.Exit != 0 || r.Stdout != "0 1234 65534\n" {
		t.Fatalf("run --group-add: %s", r)
	}
	name, _ := runningContainer(t, "--group-add", "1234", "--group-add", "nogroup")
	if r := docker(t, "exec", name, "id", "-G"); r.Exit != 0 || r.Stdout != "0 1234 65534\n" {
		t.Fatalf("exec in a --group-add container: %s", r)
	}
	if r := docker(t, "exec", "-u", "app", name, "id", "-G"); r.Exit != 0 || r.Stdout != "1000 1234 65534\n" {
		t.Fatalf("exec -u app in a --group-add container: %s", r)
	}
	bad := uniqueName(t)
	defer docker(t, "rm", "-f", bad)
	mustDocker(t, "create", "--name", bad, "--group-add", "nosuch", img, "true")
	r := docker(t, "start", bad)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "Unable to find group nosuch: no matching entries in group file") {
		t.Fatalf("start with an unknown --group-add: %s", r)
	}
	// dockerd: Created, exit code 128.
	if st := inspect(t, bad); st.State.Running || st.State.ExitCode != 128 {
		t.Fatalf("container with an unknown group: %+v", st.State)
	}
}

// exec -w of a directory that does not exist fails as with dockerd 20.10
// and runc 1.1 (measured on this machine): runc's chdir text in the
// stream, exit 126 in the CLI and in exec inspect; detached, the API
// answers with the text. The container's own -w is created as before.
func TestExecWorkdirMissing(t *testing.T) {
	name, _ := runningContainer(t, "-w", "/created/by/run")
	if r := docker(t, "exec", name, "pwd"); r.Exit != 0 || r.Stdout != "/created/by/run\n" {
		t.Fatalf("run -w: %s", r)
	}
	want := `OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: no such file or directory: unknown`
	r := docker(t, "exec", "-w", "/nope", name, "true")
	if r.Exit != 126 || strings.TrimSpace(r.Stdout) != want {
		t.Fatalf("exec -w /nope: %s", r)
	}
	if r := docker(t, "exec", "-u", "app", "-w", "/nope", name, "true"); r.Exit != 126 || strings.TrimSpace(r.Stdout) != want {
		t.Fatalf("exec -u app -w /nope: %s", r)
	}
	if r := docker(t, "exec", "-d", "-w", "/nope", name, "true"); r.Exit != 1 || !strings.Contains(r.Stderr, "Error response from daemon: "+want) {
		t.Fatalf("exec -d -w /nope: %s", r)
	}
	if r := docker(t, "exec", "-w", "/etc/passwd", name, "true"); r.Exit != 126 || !strings.Contains(r.Stdout, `chdir to cwd ("/etc/passwd") set in config.json failed: not a directory`) {
		t.Fatalf("exec -w of a file: %s", r)
	}
	// The directory was not made behind the user's back.
	if r := docker(t, "exec", name, "ls", "/nope"); r.Exit == 0 {
		t.Fatalf("exec -w created /nope: %s", r)
	}
}

// attach with stream=false and logs=true (docker-py's attach(stream=False))
// answers with the output so far and ends; stream=false without logs
// answers with nothing at once.
func TestAttachNoStream(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	defer docker(t, "rm", "-f", name)
	mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c", "echo hello; echo oops >&2; sleep 1000")
	poll(t, "the output in logs", func() bool {
		r := docker(t, "logs", name)
		return strings.Contains(r.Stdout, "hello") && strings.Contains(r.Stderr, "oops")
	})
	post := func(query string) []byte {
		req, err := http.NewRequest("POST", apiURL("/containers/"+name+"/attach?"+query), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("attach %s: %d %v %q", query, resp.StatusCode, err, b)
		}
		return b
	}
	// Multiplexed frames: stdout "hello\n" and stderr "oops\n". The two
	// pipes reach the log in no fixed order (as under dockerd), so the
	// frames are compared per stream.
	hello := append([]byte{1, 0, 0, 0, 0, 0, 0, 6}, "hello\n"...)
	oops := append([]byte{2, 0, 0, 0, 0, 0, 0, 5}, "oops\n"...)
	b := post("logs=1&stream=0&stdout=1&stderr=1")
	if !bytes.Equal(b, append(append([]byte{}, hello...), oops...)) && !bytes.Equal(b, append(append([]byte{}, oops...), hello...)) {
		t.Fatalf("attach logs=1 stream=0: %q, want the frames %q and %q", b, hello, oops)
	}
	if b := post("logs=1&stream=0&stdout=1"); !bytes.Equal(b, hello) {
		t.Fatalf("attach logs=1 stream=0 stdout only: %q", b)
	}
	if b := post("logs=0&stream=0&stdout=1&stderr=1"); len(b) != 0 {
		t.Fatalf("attach logs=0 stream=0: %q", b)
	}
}
