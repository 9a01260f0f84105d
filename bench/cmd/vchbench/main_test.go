package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", args: []string{"-workdir", "/w", "-repo", "/r"}, check: func(t *testing.T, o options) {
			if o.runs != 10 || o.listCount != 1000 || !reflect.DeepEqual(o.memCounts, []int{1, 10, 50}) {
				t.Fatalf("defaults: %+v", o)
			}
			if o.vicMachine != "/r/bin/vic-machine" || !strings.HasPrefix(o.out, "/r/bench/results/") || !strings.HasSuffix(o.out, ".json") {
				t.Fatalf("paths: %q %q", o.vicMachine, o.out)
			}
			if !reflect.DeepEqual(o.targets, []string{"dockerd", "vch"}) || o.only != nil {
				t.Fatalf("selection: %v %v", o.targets, o.only)
			}
		}},
		{name: "subset", args: []string{"-workdir", "/w", "-only", "run, boot", "-runs", "3", "-mem-counts", "1,5"}, check: func(t *testing.T, o options) {
			if !reflect.DeepEqual(o.only, []string{"run", "boot"}) || o.runs != 3 || !reflect.DeepEqual(o.memCounts, []int{1, 5}) {
				t.Fatalf("subset: %+v", o)
			}
		}},
		{name: "vch args", args: []string{"-workdir", "/w", "-vch-args", "--accel tcg  --debug"}, check: func(t *testing.T, o options) {
			if !reflect.DeepEqual(o.vchArgs, []string{"--accel", "tcg", "--debug"}) {
				t.Fatalf("vch args: %q", o.vchArgs)
			}
		}},
		{name: "count", args: []string{"-workdir", "/w", "-only", "count", "-count-max", "50", "-count-floor", "4096"}, check: func(t *testing.T, o options) {
			if o.countMax != 50 || o.countFloor != 4096 || !reflect.DeepEqual(o.only, []string{"count"}) {
				t.Fatalf("count: %+v", o)
			}
		}},
		{name: "count defaults", args: []string{"-workdir", "/w"}, check: func(t *testing.T, o options) {
			if o.countMax != 200 || o.countFloor != 2048 {
				t.Fatalf("count defaults: %d, %d", o.countMax, o.countFloor)
			}
		}},
		{name: "no containers to count", args: []string{"-workdir", "/w", "-count-max", "0"}, wantErr: "-count-max"},
		{name: "no workdir", args: nil, wantErr: "-workdir"},
		{name: "render needs no workdir", args: []string{"-render", "x.json"}, check: func(t *testing.T, o options) {
			if o.render != "x.json" {
				t.Fatalf("render = %q", o.render)
			}
		}},
		{name: "unknown measurement", args: []string{"-workdir", "/w", "-only", "run,fly"}, wantErr: "unknown measurement"},
		{name: "unknown target", args: []string{"-workdir", "/w", "-targets", "podman"}, wantErr: "unknown target"},
		{name: "zero runs", args: []string{"-workdir", "/w", "-runs", "0"}, wantErr: "-runs"},
		{name: "counts not increasing", args: []string{"-workdir", "/w", "-mem-counts", "10,1"}, wantErr: "-mem-counts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseFlags(c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, o)
		})
	}
}
