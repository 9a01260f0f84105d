package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/storage/ext4"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/control/controltest"
	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
)

// bootstrapISORunsAContainer boots the bundle's bootstrap.iso (from
// TestBundleISOs) the way ESXi would run a container VM that vch made, with QEMU standing
// in for ESXi: a BIOS machine booting the ISO from its CD-ROM, the
// container's root disk on a PVSCSI controller, a vmxnet3 NIC (user
// networking, restricted: no packet leaves QEMU), the console on serial0
// and two network serial ports (serial1, serial2) that connect out to
// this test's listeners as ESXi's tcp:// serial port backing connects to
// the VCH's concentrator, and the VM's guestinfo keys handed over through
// fw_cfg. The test plays the concentrator's part of the protocol (probe
// until hello, the boot line, log records; the control handshake and SSH
// on the other port). The tether must mount its root from the SCSI unit
// guestinfo names, configure the NIC by MAC, run the process with its
// output on the log port, answer control requests, and power the VM off
// with the root disk clean.
func bootstrapISORunsAContainer(t *testing.T, iso string) {
	dir := t.TempDir()

	// The container's root: busybox and a marker, as an image's flattened
	// top layer holds it.
	rootDir := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(rootDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static: %v", err)
	}
	files := map[string]string{
		"etc/passwd":    "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":     "root:x:0:\n",
		"etc/vch-image": "from the image disk\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(rootDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootDir, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "ip", "hostname", "echo", "sync", "sleep", "nc"} {
		if err := os.Symlink("busybox", filepath.Join(rootDir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	volImg := filepath.Join(dir, "volume.raw")
	if err := os.WriteFile(volImg, make([]byte, 32<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	rootImg := filepath.Join(dir, "root.ext4")
	if err := ext4.Make(context.Background(), rootImg, 32<<20, rootDir, "root"); err != nil {
		t.Fatal(err)
	}

	// The VM's guestinfo, as the vsphere compute provider writes it.
	pemKey, pub := controltest.HostKey(t)
	id := strings.Repeat("5e", 32)
	token := strings.Repeat("a1", 16)
	const mac = "02:42:0a:59:00:07"
	const hotMAC = "02:43:5e:5e:5e:01"
	cfg := proto.Config{
		ID: id, Hostname: "isovm", HostKey: pemKey,
		// A new volume: its disk is blank, the tether makes its file system.
		Volumes: []proto.VolumeMount{{Serial: "data", Path: "/data"}},
		Process: proto.Process{
			// Runs until the control channel's signal ends it.
			Args: []string{"sh", "-c", "cat /etc/vch-image; hostname; ip -o addr show; ip -o link show; ip route; echo written > /root/out; echo in the volume > /data/f; sync; " +
				"nc -ll -p 80 -e echo port80 & nc -ll -p 81 -e echo port81 & " +
				"trap 'ip -o addr show; echo terminated; exit 0' TERM; while :; do sleep 0.1; done"},
			Env: []string{"PATH=/bin"},
		},
	}
	b64 := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	gi := map[string]string{
		proto.GuestinfoID:     id,
		proto.GuestinfoConfig: b64(cfg),
		proto.GuestinfoSerial: "127.0.0.1:1", // ESXi's serial ports dial the VCH, not the guest
		proto.GuestinfoToken:  token,
		proto.GuestinfoDisks:  b64(map[string]int{proto.DiskRootKey: 1, "data": 0}),
		// A container network whose firewall publishes port 80 only.
		proto.GuestinfoNICs: b64([]map[string]any{{"MAC": mac, "Address": "10.89.0.7/24", "Gateway": "10.89.0.1", "MTU": 1400,
			"Firewall": "published", "Peers": []string{"10.89.0.0/24"}, "Published": []map[string]any{{"Proto": "tcp", "Port": 80}}}}),
	}
	giFile := filepath.Join(dir, "guestinfo.json")
	gb, err := json.Marshal(gi)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(giFile, gb, 0o600); err != nil {
		t.Fatal(err)
	}

	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	logLn, ctlLn := listen(), listen()
	port := func(ln net.Listener) string { return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) }
	console := filepath.Join(dir, "console.log")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	monitor := filepath.Join(dir, "monitor.sock")
	fw80, fw81, open81 := freePortOrFail(t), freePortOrFail(t), freePortOrFail(t)
	q := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "pc", "-m", "256", "-no-reboot",
		"-display", "none", "-monitor", "unix:"+monitor+",server=on,wait=off",
		"-drive", "file="+iso+",media=cdrom,if=ide,readonly=on", "-boot", "d",
		"-device", "pvscsi,id=pvscsi0",
		// unit 0: the volume's blank disk; unit 1: the root, as guestinfo says
		"-drive", "file="+volImg+",format=raw,if=none,id=vol",
		"-device", "scsi-hd,bus=pvscsi0.0,scsi-id=0,drive=vol",
		"-drive", "file="+rootImg+",format=raw,if=none,id=root",
		"-device", "scsi-hd,bus=pvscsi0.0,scsi-id=1,drive=root",
		// QEMU's user networking forwards host ports to the NICs'
		// addresses (nothing else enters or leaves)
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,net=10.89.0.0/24,host=10.89.0.1,hostfwd=tcp:127.0.0.1:%d-10.89.0.7:80,hostfwd=tcp:127.0.0.1:%d-10.89.0.7:81", fw80, fw81),
		"-device", "vmxnet3,netdev=n0,mac="+mac,
		// for the NIC hot-added below, on a network without firewall
		"-netdev", fmt.Sprintf("user,id=n1,restrict=on,net=10.90.0.0/24,host=10.90.0.1,hostfwd=tcp:127.0.0.1:%d-10.90.0.9:81", open81),
		"-chardev", "file,id=con,path="+console,
		"-chardev", "socket,id=log,host=127.0.0.1,port="+port(logLn)+",server=off,reconnect=1",
		"-chardev", "socket,id=ctl,host=127.0.0.1,port="+port(ctlLn)+",server=off,reconnect=1",
		"-serial", "chardev:con", "-serial", "chardev:log", "-serial", "chardev:ctl",
		"-fw_cfg", "name="+guestinfo.FwCfgName+",file="+giFile)
	var qout bytes.Buffer
	q.Stdout, q.Stderr = &qout, &qout
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	qdone := make(chan error, 1)
	qexited := make(chan struct{}) // closed once QEMU has exited (qdone is read again below)
	go func() {
		err := q.Wait()
		close(qexited)
		qdone <- err
	}()
	defer func() {
		cancel()
		<-qdone
	}()
	// A QEMU that exits (at start, or killed when ctx ends) never connects
	// its serial ports: closing the listeners ends a wait in Accept.
	// Connections already accepted are not affected.
	go func() {
		<-qexited
		logLn.Close()
		ctlLn.Close()
	}()
	consoleText := func() string { b, _ := os.ReadFile(console); return string(b) }

	accept := func(ln net.Listener, what string) net.Conn {
		t.Helper()
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-qexited:
				t.Fatalf("%s: QEMU exited before connecting (%v): %s\nconsole:\n%s", what, err, qout.String(), consoleText())
			default:
				t.Fatalf("%s: %v", what, err)
			}
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// The log port.
	lc := accept(logLn, "log port")
	if err := probeForHello(lc, proto.SerialHello(id, proto.PortLog, token)); err != nil {
		t.Fatalf("log port: %v\nconsole:\n%s", err, consoleText())
	}
	if _, err := io.WriteString(lc, proto.BootRun+"\n"); err != nil {
		t.Fatal(err)
	}

	// The control port, while the process runs.
	state := make(chan string, 1)
	ctlConn := make(chan net.Conn, 1)
	go func() {
		cc, err := ctlLn.Accept()
		if err != nil {
			state <- err.Error()
			return
		}
		defer cc.Close()
		ctlConn <- cc
		if err := probeForHello(cc, proto.SerialHello(id, proto.PortControl, token)); err != nil {
			state <- "control port: " + err.Error()
			return
		}
		hctx, hcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer hcancel()
		client, err := tetherlink.Handshake(hctx, cc, pub)
		if err != nil {
			state <- "handshake: " + err.Error()
			return
		}
		defer client.Close()
		ok, reply, err := client.SendRequest(proto.ReqState, true, nil)
		res := fmt.Sprintf("%v %s %v", ok, reply, err)
		// network connect: ESXi hot-adds a vmxnet3 NIC (here: the
		// monitor's device_add, an ACPI PCI hot-plug), then the tether
		// is asked to configure it.
		if err := hmp(monitor, "device_add vmxnet3,id=hot1,netdev=n1,mac="+hotMAC); err != nil {
			res += "; device_add: " + err.Error()
		}
		req, _ := json.Marshal(proto.NICRequest{Interface: proto.Interface{MAC: hotMAC, Address: "10.90.0.9/24"}, Up: true})
		if ok, msg, err := client.SendRequest(proto.ReqNIC, true, req); !ok || err != nil {
			res += fmt.Sprintf("; NIC request: %v %s %v", ok, msg, err)
		}
		// The firewall: port 81 answers on the open network (so its
		// listener is up), not on the container network, where only
		// port 80 is published.
		if got := dialRead(open81, time.Minute); got != "port81\n" {
			res += fmt.Sprintf("; port 81 on the open network: %q", got)
		}
		if got := dialRead(fw80, time.Minute); got != "port80\n" {
			res += fmt.Sprintf("; published port 80: %q", got)
		}
		if got := dialRead(fw81, 0); got != "" {
			res += fmt.Sprintf("; unpublished port 81 answered %q", got)
		}
		sig, _ := json.Marshal(proto.SignalRequest{Signal: 15})
		if ok, _, err := client.SendRequest(proto.ReqSignal, true, sig); !ok || err != nil {
			res += fmt.Sprintf("; signal: %v %v", ok, err)
		}
		state <- res
	}()

	// Read records until the power off.
	var stdout strings.Builder
	var events []string
	var buf []byte
	_ = lc.SetReadDeadline(time.Now().Add(6 * time.Minute))
	rb := make([]byte, 4096)
	for len(events) == 0 || events[len(events)-1] != proto.EventPowerOff {
		n, err := lc.Read(rb)
		buf = append(buf, rb[:n]...)
		for len(buf) > 0 {
			if bytes.HasPrefix(buf, []byte("vch-serial ")) {
				// A hello answering a late probe: between records.
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				buf = buf[i+1:]
				continue
			}
			r, used, derr := proto.DecodeRecord(buf)
			if errors.Is(derr, proto.ErrShortRecord) {
				break // a partial record: read more
			}
			if derr != nil {
				t.Fatalf("log port: %v", derr)
			}
			buf = buf[used:]
			switch r.Kind {
			case proto.KindStdout:
				stdout.WriteString(string(r.Data))
			case proto.KindEvent:
				var ev proto.Event
				if err := json.Unmarshal(r.Data, &ev); err != nil {
					t.Fatalf("event %q: %v", r.Data, err)
				}
				events = append(events, ev.Name)
				if ev.Error != "" {
					t.Errorf("the tether's error event: %s (exit code %d)", ev.Error, ev.ExitCode)
				}
				if ev.Name == proto.EventExited && ev.ExitCode != 0 {
					t.Errorf("exit code %d", ev.ExitCode)
				}
			}
		}
		if err != nil {
			t.Fatalf("log port: %v (events %v, stdout %q)\nconsole:\n%s", err, events, stdout.String(), consoleText())
		}
	}
	want := []string{proto.EventTether, proto.EventMounted, proto.EventStarted, proto.EventExited, proto.EventPowerOff}
	if strings.Join(events, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", events, want)
	}
	for _, w := range []string{
		"from the image disk\n", "isovm\n",
		"inet 10.89.0.7/24", "mtu 1400", mac, "default via 10.89.0.1", "inet 10.90.0.9/24", "terminated\n",
	} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, stdout.String())
		}
	}
	// The VM is off: a control session still waiting ends now.
	select {
	case cc := <-ctlConn:
		_ = cc.SetDeadline(time.Now().Add(time.Minute))
	default:
		ctlLn.Close()
	}
	var st string
	select {
	case st = <-state:
	case <-time.After(3 * time.Minute): // its own waits are bounded; this catches a hang only
		t.Fatalf("the control session never ended\nconsole:\n%s", consoleText())
	}
	if !strings.HasPrefix(st, "true ") || !strings.Contains(st, `"running":true`) || strings.Contains(st, "; ") {
		t.Errorf("control state request: %s", st)
	}
	select {
	case err := <-qdone:
		qdone <- err
		if err != nil {
			t.Fatalf("QEMU: %v\n%s", err, qout.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the VM did not power off\nconsole:\n%s", consoleText())
	}
	// The root disk: unmounted cleanly, with what the process wrote.
	if out, err := exec.Command("e2fsck", "-fn", rootImg).CombinedOutput(); err != nil {
		t.Fatalf("root disk not clean after the power off: %v\n%s", err, out)
	}
	out, err := exec.Command("debugfs", "-R", "cat /root/out", rootImg).Output()
	if err != nil || string(out) != "written\n" {
		t.Fatalf("/root/out on the root disk: %q %v", out, err)
	}
	if out, err := exec.Command("e2fsck", "-fn", volImg).CombinedOutput(); err != nil {
		t.Fatalf("volume disk: %v\n%s", err, out)
	}
	if out, err := exec.Command("debugfs", "-R", "cat /f", volImg).Output(); err != nil || string(out) != "in the volume\n" {
		t.Fatalf("/f on the volume disk: %q %v", out, err)
	}
	t.Logf("console:\n%s", consoleText())
}

// probeForHello plays the concentrator on a new serial connection: probe
// lines until the hello arrives (other lines are ignored; read byte by
// byte, so nothing after the hello is consumed).
func probeForHello(c net.Conn, hello string) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, err := io.WriteString(c, proto.SerialProbe+"\n"); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(proto.SerialProbeEvery):
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	defer c.SetReadDeadline(time.Time{})
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("waiting for the hello: %w", err)
		}
		if b[0] != '\n' {
			line = append(line, b[0])
			continue
		}
		if string(line)+"\n" == hello {
			return nil
		}
		line = line[:0]
	}
}

// dialRead connects to 127.0.0.1:port and returns what arrives before
// the connection ends or 5 s pass; with retry > 0 it tries again (a
// listener starting, a NIC being set up) until it reads something or
// retry has passed.
func dialRead(port int, retry time.Duration) string {
	deadline := time.Now().Add(retry)
	for {
		got := ""
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			got = string(b)
		}
		if got != "" || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hmp sends one command to QEMU's human monitor on a unix socket and
// reads until its next prompt.
func hmp(path, cmd string) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	var out []byte
	b := make([]byte, 1024)
	prompt := func() error {
		for !bytes.HasSuffix(out, []byte("(qemu) ")) {
			n, err := c.Read(b)
			out = append(out, b[:n]...)
			if err != nil {
				return fmt.Errorf("monitor: %w (%q)", err, out)
			}
		}
		return nil
	}
	if err := prompt(); err != nil {
		return err
	}
	out = out[:0]
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return err
	}
	if err := prompt(); err != nil {
		return err
	}
	// The monitor echoes the command; anything more is an error message.
	reply := strings.TrimSpace(strings.TrimSuffix(string(out), "(qemu) "))
	if i := strings.Index(reply, "\n"); i >= 0 && strings.TrimSpace(reply[i+1:]) != "" {
		return fmt.Errorf("monitor %q: %s", cmd, reply[i+1:])
	}
	return nil
}
