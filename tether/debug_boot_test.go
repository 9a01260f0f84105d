package tether_test

import (
	"strings"
	"testing"
)

func TestBootDebugConsole(t *testing.T) {
	v := newVM(t, "true")
	v.cfg.Debug = true
	v.start(t)
	l := v.wait(t)
	t.Logf("console:\n%s", v.consoleText())
	if !strings.Contains(v.consoleText(), "process started") {
		t.Fatal("no debug log")
	}
	_ = l
}
