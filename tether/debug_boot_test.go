package tether_test

import (
	"reflect"
	"strings"
	"testing"
)

// TestBootDebugConsole boots with Config.Debug: the tether logs its steps
// to the console (ttyS0 here).
func TestBootDebugConsole(t *testing.T) {
	v := newVM(t, "true")
	v.cfg.Debug = true
	v.start(t)
	l := v.wait(t)
	console := v.consoleText()
	for _, want := range []string{"config read", "process started", "power off"} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	if !reflect.DeepEqual(l.names(), lifecycle) {
		t.Fatalf("events %v", l.events)
	}
}
