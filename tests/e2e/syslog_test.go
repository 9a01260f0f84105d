package e2e

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/backends/syslog"
)

// syslogMessages collects what a listener receives. stdout and stderr
// reach the server in no fixed order between them, so a message that one
// await passes over is held for the next.
type syslogMessages struct {
	ch   chan string
	held []string
}

func (m *syslogMessages) await(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	for i, msg := range m.held {
		if match(msg) {
			m.held = append(m.held[:i], m.held[i+1:]...)
			return msg
		}
	}
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case msg := <-m.ch:
			if match(msg) {
				return msg
			}
			m.held = append(m.held, msg)
		case <-deadline:
			t.Fatalf("no syslog message %s; got %q", what, m.held)
		}
	}
}

// --syslog-address: container output also goes to a syslog server (a UDP
// and then a TCP listener on 127.0.0.1 of the VCH's namespace), one RFC
// 5424 message per line, stdout at severity info and stderr at err, with
// the container's name and short ID. configure switches the address; a
// container running across the switch is forwarded to the new one.
func TestSyslogForwarding(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)

	var pc net.PacketConn
	if err := v.ns.Do(func() (err error) { pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	udp := &syslogMessages{ch: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			udp.ch <- string(buf[:n])
		}
	}()
	if out, err := v.vicMachine("configure", "--name", v.name, "--syslog-address", "udp://"+pc.LocalAddr().String()); err != nil {
		t.Fatalf("configure --syslog-address: %v\n%s", err, out)
	}
	if out, _ := v.vicMachine("inspect", "config", "--name", v.name); !strings.Contains(out, "--syslog-address udp://"+pc.LocalAddr().String()) {
		t.Errorf("inspect config lacks the syslog address:\n%s", out)
	}

	id := strings.TrimSpace(v.must(t, "run", "-d", "--name", "talker", img, "sh", "-c", "echo hello-syslog; echo oops-syslog >&2; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 1; done"))
	short := id[:12]
	msg := udp.await(t, "with hello-syslog", func(s string) bool { return strings.HasSuffix(s, " hello-syslog") })
	if !strings.HasPrefix(msg, "<30>1 ") || !strings.Contains(msg, " "+v.name+" talker "+short+" stdout - hello-syslog") {
		t.Errorf("stdout message %q", msg)
	}
	msg = udp.await(t, "with oops-syslog", func(s string) bool { return strings.HasSuffix(s, " oops-syslog") })
	if !strings.HasPrefix(msg, "<27>1 ") || !strings.Contains(msg, " talker "+short+" stderr - oops-syslog") {
		t.Errorf("stderr message %q", msg)
	}
	// The timestamp is RFC 3339 in UTC.
	if f := strings.Fields(msg); len(f) < 2 || func() error { _, err := time.Parse(time.RFC3339Nano, f[1]); return err }() != nil {
		t.Errorf("timestamp of %q", msg)
	}
	// docker logs still has everything.
	if logs := v.docker(t, "logs", "talker"); !strings.Contains(logs.Stdout, "hello-syslog") || !strings.Contains(logs.Stderr, "oops-syslog") {
		t.Errorf("docker logs: %s", logs)
	}

	// Switch to TCP (octet-counted frames): the running container's later
	// lines and a new container's arrive there.
	l, err := v.ns.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tcp := &syslogMessages{ch: make(chan string, 1000)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					m, err := syslog.ReadFramed(r)
					if err != nil {
						return
					}
					tcp.ch <- m
				}
			}()
		}
	}()
	if out, err := v.vicMachine("configure", "--name", v.name, "--syslog-address", "tcp://"+l.Addr().String()); err != nil {
		t.Fatalf("configure --syslog-address tcp: %v\n%s", err, out)
	}
	tcp.await(t, "from the running container", func(s string) bool {
		return strings.Contains(s, " talker "+short+" stdout - tick-")
	})
	v.must(t, "run", "--name", "second", img, "echo", "second-line")
	tcp.await(t, "from a new container", func(s string) bool { return strings.Contains(s, " second ") && strings.HasSuffix(s, " second-line") })

	// Bad input: one line, nothing changed.
	out, err := v.vicMachine("configure", "--name", v.name, "--syslog-address", "syslog.example.com")
	if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "use udp://host:port or tcp://host:port") {
		t.Errorf("bad --syslog-address: %v\n%s", err, out)
	}
	if out, _ := v.vicMachine("inspect", "--name", v.name); !strings.Contains(out, "Syslog: tcp://"+l.Addr().String()) {
		t.Errorf("inspect after a refused configure:\n%s", out)
	}
	v.must(t, "rm", "-f", "talker", "second")
}
