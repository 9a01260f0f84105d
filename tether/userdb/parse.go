package userdb

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// User is one passwd entry.
type User struct {
	Name string
	UID  int
	GID  int
	Home string
}

// Group is one group entry.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// ParsePasswd reads passwd(5) text; malformed lines are skipped, as libc
// does. A nil reader yields no entries.
func ParsePasswd(r io.Reader) ([]User, error) {
	var out []User
	err := eachLine(r, func(f []string) {
		if len(f) < 7 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		out = append(out, User{Name: f[0], UID: uid, GID: gid, Home: f[5]})
	})
	return out, err
}

// ParseGroup reads group(5) text; malformed lines are skipped.
func ParseGroup(r io.Reader) ([]Group, error) {
	var out []Group
	err := eachLine(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		g := Group{Name: f[0], GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		out = append(out, g)
	})
	return out, err
}

func eachLine(r io.Reader, fn func([]string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		fn(strings.Split(l, ":"))
	}
	return sc.Err()
}
