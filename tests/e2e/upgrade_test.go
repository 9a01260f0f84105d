package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// update firewall --deny closes the VCH's API port to everyone but
// loopback (a client in the "out" namespace is refused, docker on
// 127.0.0.1 works), --allow opens it again; delete removes the rule.
func TestUpdateFirewall(t *testing.T) {
	v := newNetVCH(t, "--bind", "0.0.0.0")
	port := v.host[strings.LastIndexByte(v.host, ':')+1:]
	remote := net.JoinHostPort(netHostAddr, port)
	reach := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := v.out.Dial(ctx, "tcp4", remote)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := reach(); err != nil {
		t.Fatalf("API port from outside before any rule: %v", err)
	}
	out, err := v.vicMachine("update", "firewall", "--name", v.name, "--deny")
	if err != nil || !strings.Contains(out, "closed in the host firewall") {
		t.Fatalf("update firewall --deny: %v\n%s", err, out)
	}
	if err := reach(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("API port from outside after --deny: %v, want connection refused", err)
	}
	v.must(t, "version") // loopback stays open
	rules, _ := v.ns.Run("iptables", "-S", "INPUT")
	if !strings.Contains(rules, "vch-api:"+v.name) || !strings.Contains(rules, "--dport "+port) || !strings.Contains(rules, "REJECT") {
		t.Errorf("rules after --deny:\n%s", rules)
	}
	out, err = v.vicMachine("update", "firewall", "--name", v.name, "--allow")
	if err != nil || !strings.Contains(out, "open in the host firewall") {
		t.Fatalf("update firewall --allow: %v\n%s", err, out)
	}
	if err := reach(); err != nil {
		t.Fatalf("API port from outside after --allow: %v", err)
	}
	rules, _ = v.ns.Run("iptables", "-S", "INPUT")
	if strings.Contains(rules, "REJECT") || !strings.Contains(rules, "ACCEPT") {
		t.Errorf("rules after --allow:\n%s", rules)
	}
	// Bad input: one line, nothing changed.
	for _, bad := range [][]string{{"update", "firewall", "--name", v.name}, {"update", "firewall", "--name", v.name, "--allow", "--deny"}, {"update", "walls", "--name", v.name}} {
		out, err := v.vicMachine(bad...)
		if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%v: %v\n%s", bad, err, out)
		}
	}
	if out, err := v.vicMachine("delete", "--name", v.name, "--force"); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	awaitNothingLeft(t, "after delete", func() string {
		rules, err := v.ns.Run("iptables", "-S", "INPUT")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rules, "vch-api:") {
			return "the API port's rules:\n" + rules
		}
		return ""
	})
}

// upgrade moves a VCH to the installed binaries (here the same build; the
// VCH is made to look older by its version file): vchd restarts on them,
// containers keep running, ls says up to date. --rollback goes back to
// the kept copy of the vchd it ran and its version.
func TestUpgradeAndRollback(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)
	v.must(t, "run", "-d", "--name", "keeper", img, "sleep", "1000")
	started := v.must(t, "inspect", "--format", "{{.State.StartedAt}} {{.State.Pid}}", "keeper")

	out, err := v.vicMachine("upgrade", "--name", v.name)
	if err == nil || !strings.Contains(out, "already runs version") {
		t.Fatalf("upgrade of a current VCH: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(v.root, "version"), []byte("0.0.1-old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := v.vicMachine("ls"); !strings.Contains(out, "0.0.1-old") || !strings.Contains(out, "Upgradeable to") {
		t.Fatalf("ls before upgrade:\n%s", out)
	}
	oldPid := pidOf(t, filepath.Join(v.root, "vchd.pid"))
	out, err = v.vicMachine("upgrade", "--name", v.name)
	if err != nil || !strings.Contains(out, "upgraded to version") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	newPid := pidOf(t, filepath.Join(v.root, "vchd.pid"))
	if newPid == oldPid {
		t.Fatal("vchd was not restarted by upgrade")
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", newPid)); exe != filepath.Join(env.repo, "bin", "vchd") {
		t.Errorf("upgraded vchd runs %s", exe)
	}
	if out, _ := v.vicMachine("ls"); !strings.Contains(out, "Up to date") {
		t.Errorf("ls after upgrade:\n%s", out)
	}
	if got := v.must(t, "inspect", "--format", "{{.State.StartedAt}} {{.State.Pid}}", "keeper"); got != started {
		t.Errorf("container after upgrade: %q, before %q", got, started)
	}
	v.must(t, "run", "--rm", img, "true") // new containers boot

	out, err = v.vicMachine("upgrade", "--name", v.name, "--rollback")
	if err != nil || !strings.Contains(out, "rolled back to version 0.0.1-old") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	rbPid := pidOf(t, filepath.Join(v.root, "vchd.pid"))
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", rbPid)); exe != filepath.Join(v.root, "upgrade", "vchd") {
		t.Errorf("rolled-back vchd runs %s", exe)
	}
	if out, _ := v.vicMachine("ls"); !strings.Contains(out, "0.0.1-old") {
		t.Errorf("ls after rollback:\n%s", out)
	}
	if got := v.must(t, "inspect", "--format", "{{.State.StartedAt}} {{.State.Pid}}", "keeper"); got != started {
		t.Errorf("container after rollback: %q, before %q", got, started)
	}
	v.must(t, "run", "--rm", img, "true")
	// stop and start keep the rolled-back vchd.
	if out, err := v.vicMachine("stop", "--name", v.name); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	if out, err := v.vicMachine("start", "--name", v.name); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pidOf(t, filepath.Join(v.root, "vchd.pid")))); exe != filepath.Join(v.root, "upgrade", "vchd") {
		t.Errorf("vchd after stop and start of a rolled-back VCH runs %s", exe)
	}
	v.must(t, "rm", "-f", "keeper")
}
