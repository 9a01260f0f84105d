package userdb

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
nohome:x:1001:1001:::/bin/sh
`

const group = `root:x:0:root
bin:x:1:root,bin,daemon
wheel:x:10:root, app
app:x:1000:
video:x:44:app
bad:x:notanumber:app
`

func TestResolve(t *testing.T) {
	users, err := ParsePasswd(strings.NewReader(passwd))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := ParseGroup(strings.NewReader(group))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec string
		want Exec
		bad  bool
	}{
		{"", Exec{Name: "root", UID: 0, GID: 0, Groups: []uint32{0, 1, 10}, Home: "/root"}, false},
		{"root", Exec{Name: "root", UID: 0, GID: 0, Groups: []uint32{0, 1, 10}, Home: "/root"}, false},
		{"app", Exec{Name: "app", UID: 1000, GID: 1000, Groups: []uint32{10, 44}, Home: "/home/app"}, false},
		{"1000", Exec{Name: "app", UID: 1000, GID: 1000, Groups: []uint32{10, 44}, Home: "/home/app"}, false},
		{"app:video", Exec{Name: "app", UID: 1000, GID: 44, Groups: []uint32{10, 44}, Home: "/home/app"}, false},
		{"app:4242", Exec{Name: "app", UID: 1000, GID: 4242, Groups: []uint32{10, 44}, Home: "/home/app"}, false},
		{"4242", Exec{UID: 4242, GID: 0, Home: "/"}, false},
		{"4242:4243", Exec{UID: 4242, GID: 4243, Home: "/"}, false},
		{"daemon", Exec{Name: "daemon", UID: 1, GID: 1, Groups: []uint32{1}, Home: "/usr/sbin"}, false},
		{"nohome", Exec{Name: "nohome", UID: 1001, GID: 1001, Home: "/"}, false},
		{":video", Exec{Name: "root", UID: 0, GID: 44, Groups: []uint32{0, 1, 10}, Home: "/root"}, false},
		{"ghost", Exec{}, true},
		{"app:ghosts", Exec{}, true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := Resolve(tc.spec, users, groups)
			if tc.bad {
				if !errdefs.IsInvalidParameter(err) {
					t.Fatalf("err = %v, want invalid parameter", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveWithoutFiles(t *testing.T) {
	users, _ := ParsePasswd(nil)
	groups, _ := ParseGroup(nil)
	got, err := Resolve("", users, groups)
	if err != nil || got.UID != 0 || got.GID != 0 || got.Home != "/" {
		t.Fatalf("scratch image root: %+v %v", got, err)
	}
	if _, err := Resolve("www", users, groups); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("named user without passwd: %v", err)
	}
}

// --group-add: names and numbers, each group once, an unknown name fails.
func TestAddGroups(t *testing.T) {
	groups, err := ParseGroup(strings.NewReader(group))
	if err != nil {
		t.Fatal(err)
	}
	e := Exec{Name: "app", UID: 1000, GID: 1000, Groups: []uint32{10, 44}}
	if err := e.AddGroups([]string{"video", "bin", "1234", "1234"}, groups); err != nil {
		t.Fatal(err)
	}
	if want := []uint32{10, 44, 1, 1234}; !reflect.DeepEqual(e.Groups, want) {
		t.Fatalf("groups %v, want %v", e.Groups, want)
	}
	err = e.AddGroups([]string{"nosuch"}, groups)
	if !errdefs.IsInvalidParameter(err) || !strings.HasPrefix(err.Error(), "Unable to find group nosuch: no matching entries in group file") {
		t.Fatalf("unknown group: %v", err)
	}
}
