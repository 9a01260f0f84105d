package tether_test

// The boot tests run the real tether as PID 1 of a QEMU VM (TCG) with the
// kernel fetched by scripts/fetch-kernel.sh. They need root, mkfs.ext4,
// qemu-system-x86_64, /bin/busybox (busybox-static) and the kernel; they
// fail, not skip, if any is missing. This file is the small host side they
// use: image, disks, QEMU command line, log decoding, control handshake.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/portlayer/qemu/initramfs"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/portlayer/storage/ext4"
	"github.com/vchproject/vch/tether/proto"
)

// guest is what every boot test shares: the kernel, the initramfs with a
// freshly built tether and a busybox image disk.
type guest struct {
	kernel    *kernel.Kernel
	initrd    string
	image     string
	hostKey   []byte
	hostPub   ssh.PublicKey
	tscKHz    int
	sharedDir string
}

var (
	guestOnce sync.Once
	guestVal  *guest
	guestErr  error
)

// TestMain removes the shared guest's files (tether, initramfs, image)
// once every test that used them is done.
func TestMain(m *testing.M) {
	code := m.Run()
	if guestVal != nil {
		_ = os.RemoveAll(guestVal.sharedDir)
	}
	os.Exit(code)
}

func sharedGuest(t *testing.T) *guest {
	t.Helper()
	guestOnce.Do(func() { guestVal, guestErr = newGuest() })
	if guestErr != nil {
		t.Fatalf("boot test setup: %v", guestErr)
	}
	return guestVal
}

func newGuest() (*guest, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("boot tests need root (mounting is done in the guest, but QEMU disks and mkfs run here)")
	}
	for _, tool := range []string{"qemu-system-x86_64", "mkfs.ext4", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("boot tests need %s: %w", tool, err)
		}
	}
	k, err := kernel.Find(kernel.DefaultDir())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vch-boottest-")
	if err != nil {
		return nil, err
	}
	g := &guest{kernel: k, sharedDir: dir}
	tether := filepath.Join(dir, "tether")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", tether, "github.com/vchproject/vch/cmd/tether")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build tether: %w: %s", err, out)
	}
	if g.initrd, err = initramfs.Ensure(filepath.Join(dir, "initramfs"), tether, k.Dir); err != nil {
		return nil, err
	}
	if g.image, err = busyboxImage(dir); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	g.hostKey = pem.EncodeToMemory(blk)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	g.hostPub = signer.PublicKey()
	if g.tscKHz, err = hostTSCkHz(); err != nil {
		return nil, err
	}
	return g, nil
}

// busyboxImage makes an ext4 image holding a static busybox, its applet
// links and a small /etc.
func busyboxImage(dir string) (string, error) {
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("boot tests need busybox-static: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		return "", err
	}
	for _, applet := range []string{"sh", "echo", "cat", "sleep", "true", "false", "hostname", "id", "ls", "pwd", "tty", "stty", "env", "date", "grep", "sync", "stat"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			return "", err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nvideo:x:44:app\n",
		"noexec":     "not a program\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	img := filepath.Join(dir, "image.ext4")
	if err := ext4.Make(context.Background(), img, 16<<20, root, "image"); err != nil {
		return "", err
	}
	return img, nil
}

// hostTSCkHz is the host's TSC frequency for the guest's tsc_early_khz
// (without it some TCG boots hang calibrating the TSC).
func hostTSCkHz() (int, error) {
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/tsc_freq_khz"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return v, nil
		}
	}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, err
			}
			return int(mhz * 1000), nil
		}
	}
	return 0, fmt.Errorf("no cpu MHz in /proc/cpuinfo")
}

// vm is one container VM.
type vm struct {
	g       *guest
	dir     string
	rw      string // rw disk, reusable across boots
	cfg     proto.Config
	ctlSock string
	logFile string
	console string
	cmd     *exec.Cmd
	done    chan error
	exited  chan struct{} // closed when QEMU has exited
	started time.Time
}

func newVM(t *testing.T, args ...string) *vm {
	g := sharedGuest(t)
	dir, err := os.MkdirTemp("", "vm-") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	v := &vm{g: g, dir: dir, rw: filepath.Join(dir, "rw.ext4")}
	if err := ext4.Make(context.Background(), v.rw, 64<<20, "", "rw"); err != nil {
		t.Fatal(err)
	}
	v.cfg = proto.Config{
		ID:       "test",
		Hostname: "c1",
		Hosts:    []proto.HostEntry{{IP: "10.9.8.7", Names: []string{"registry.test"}}},
		DNS:      []string{"10.0.0.1"},
		Process:  proto.Process{Args: args},
		HostKey:  g.hostKey,
	}
	return v
}

// start boots the VM; boot n of the same vm gets fresh log and socket files.
func (v *vm) start(t *testing.T) {
	t.Helper()
	n := 0
	for {
		if _, err := os.Stat(filepath.Join(v.dir, fmt.Sprintf("log%d", n))); err != nil {
			break
		}
		n++
	}
	v.logFile = filepath.Join(v.dir, fmt.Sprintf("log%d", n))
	v.ctlSock = filepath.Join(v.dir, fmt.Sprintf("ctl%d.sock", n))
	v.console = filepath.Join(v.dir, fmt.Sprintf("console%d", n))
	cfgDisk := filepath.Join(v.dir, fmt.Sprintf("config%d", n))
	v.cfg.LaunchTime = time.Now().UnixNano()
	var buf bytes.Buffer
	if err := proto.WriteConfig(&buf, &v.cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgDisk, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	appendArgs := fmt.Sprintf("console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=%d no_timer_check", v.g.tscKHz)
	drive := func(id, file, serial string, ro bool) []string {
		opt := fmt.Sprintf("id=%s,file=%s,format=raw,if=none,cache=unsafe", id, file)
		if ro {
			opt += ",readonly=on"
		}
		return []string{"-drive", opt, "-device", fmt.Sprintf("virtio-blk-device,drive=%s,serial=%s", id, serial)}
	}
	args := []string{
		"-accel", "tcg", "-M", "microvm", "-cpu", "max", "-m", "256", "-smp", "1",
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-serial", "file:" + v.console,
		"-kernel", v.g.kernel.Vmlinuz, "-initrd", v.g.initrd, "-append", appendArgs,
	}
	args = append(args, drive("cfg", cfgDisk, proto.DiskConfig, true)...)
	args = append(args, drive("img", v.g.image, proto.DiskImage, true)...)
	args = append(args, drive("rw", v.rw, proto.DiskRW, false)...)
	args = append(args,
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=ctl,path="+v.ctlSock+",server=on,wait=off",
		"-device", "virtserialport,chardev=ctl,name="+proto.PortControl,
		"-chardev", "file,id=log,path="+v.logFile,
		"-device", "virtserialport,chardev=log,name="+proto.PortLog,
	)
	v.cmd = exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	v.cmd.Stdout, v.cmd.Stderr = &stderr, &stderr
	v.started = time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	v.done = make(chan error, 1)
	v.exited = make(chan struct{})
	go func() {
		err := v.cmd.Wait()
		close(v.exited)
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		v.done <- err
	}()
	t.Cleanup(func() { v.cmd.Process.Kill() })
}

// vmBound bounds every wait on a guest. It is generous (a TCG boot on a
// loaded 2-core machine takes tens of seconds) and only turns a hang into a
// failure that shows the console; it says nothing about speed.
const vmBound = 5 * time.Minute

// fatalHung kills QEMU and fails the test with the guest console: what the
// test waited for did not happen within vmBound.
func (v *vm) fatalHung(t *testing.T, format string, args ...any) {
	t.Helper()
	_ = v.cmd.Process.Kill()
	select {
	case <-v.done:
	case <-time.After(30 * time.Second):
	}
	t.Fatalf("%s: nothing after %v, QEMU killed\nconsole:\n%s", fmt.Sprintf(format, args...), vmBound, v.consoleText())
}

// wait waits for QEMU to exit and returns the decoded log.
func (v *vm) wait(t *testing.T) *runLog {
	t.Helper()
	select {
	case err := <-v.done:
		if err != nil {
			t.Fatalf("qemu: %v\nconsole:\n%s", err, v.consoleText())
		}
	case <-time.After(vmBound):
		v.fatalHung(t, "waiting for QEMU to exit")
	}
	wall := time.Since(v.started)
	l := readLog(t, v.logFile)
	l.wall = wall
	l.launch = time.Unix(0, v.cfg.LaunchTime)
	return l
}

func (v *vm) consoleText() string {
	b, _ := os.ReadFile(v.console)
	return string(b)
}

// waitOutput polls the log file, which QEMU writes while the VM runs, until
// the process's stdout so far contains want.
func (v *vm) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // catches a hang only
	for {
		var stdout strings.Builder
		b, _ := os.ReadFile(v.logFile)
		for len(b) > 0 {
			r, n, err := proto.DecodeRecord(b)
			if err != nil {
				break // a record still being written
			}
			b = b[n:]
			if r.Kind == proto.KindStdout {
				stdout.Write(r.Data)
			}
		}
		if strings.Contains(stdout.String(), want) {
			return
		}
		select {
		case err := <-v.done:
			t.Fatalf("qemu exited before the output showed %q: %v\nstdout: %s", want, err, stdout.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q: %s", want, stdout.String())
		}
	}
}

// runLog is a decoded PortLog file.
type runLog struct {
	stdout, stderr string
	events         []proto.Event
	times          []time.Time // guest time of each event
	wall           time.Duration
	launch         time.Time
}

func readLog(t *testing.T, path string) *runLog {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := &runLog{}
	for len(b) > 0 {
		r, n, err := proto.DecodeRecord(b)
		if err != nil {
			t.Fatalf("log record: %v", err)
		}
		b = b[n:]
		switch r.Kind {
		case proto.KindStdout:
			l.stdout += string(r.Data)
		case proto.KindStderr:
			l.stderr += string(r.Data)
		case proto.KindEvent:
			var ev proto.Event
			if err := json.Unmarshal(r.Data, &ev); err != nil {
				t.Fatalf("event %q: %v", r.Data, err)
			}
			l.events = append(l.events, ev)
			l.times = append(l.times, r.Time)
		}
	}
	return l
}

// names lists the event names in order.
func (l *runLog) names() []string {
	var out []string
	for _, e := range l.events {
		out = append(out, e.Name)
	}
	return out
}

func (l *runLog) event(name string) (proto.Event, time.Time, bool) {
	for i, e := range l.events {
		if e.Name == name {
			return e, l.times[i], true
		}
	}
	return proto.Event{}, time.Time{}, false
}

// dialControl connects to the VM's control socket and does the host side of
// the handshake, then returns an SSH client pinned to the host key.
func (v *vm) dialControl(t *testing.T) *ssh.Client {
	t.Helper()
	var c net.Conn
	var err error
	deadline := time.Now().Add(vmBound)
	for {
		// QEMU creates the socket shortly after it starts.
		if c, err = net.Dial("unix", v.ctlSock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			v.fatalHung(t, "control socket %s: %v", v.ctlSock, err)
		}
		select {
		case err := <-v.done:
			t.Fatalf("qemu exited before the control socket was up: %v\nconsole:\n%s", err, v.consoleText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() { c.Close() })
	// The handshake and the SSH handshake get a deadline: a guest that never
	// answers fails the test instead of blocking it. Cleared once connected.
	if err := c.SetDeadline(time.Now().Add(vmBound)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	readUntil := func(want string) {
		for {
			l, err := br.ReadString('\n')
			if errors.Is(err, os.ErrDeadlineExceeded) {
				v.fatalHung(t, "control: waiting for %q", want)
			}
			if err != nil {
				t.Fatalf("control: waiting for %q: %v\nconsole:\n%s", want, err, v.consoleText())
			}
			if strings.HasSuffix(l, want) {
				return
			}
		}
	}
	stopNudge := make(chan struct{})
	nudged := proto.Nudge(c, stopNudge)
	readUntil(proto.HelloLine)
	close(stopNudge)
	<-nudged
	if _, err := io.WriteString(c, proto.GoLine); err != nil {
		t.Fatal(err)
	}
	readUntil(proto.AckLine)
	cc, chans, reqs, err := ssh.NewClientConn(&readerConn{Conn: c, r: br}, "tether",
		&ssh.ClientConfig{User: "vch", HostKeyCallback: ssh.FixedHostKey(v.g.hostPub)})
	if err != nil {
		t.Fatalf("control ssh: %v\nconsole:\n%s", err, v.consoleText())
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	return ssh.NewClient(cc, chans, reqs)
}

type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func request(t *testing.T, c *ssh.Client, typ string, payload any) (bool, []byte) {
	t.Helper()
	var b []byte
	if payload != nil {
		var err error
		if b, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	ok, reply, err := c.SendRequest(typ, true, b)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return ok, reply
}
