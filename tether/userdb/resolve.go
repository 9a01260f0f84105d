package userdb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// Exec is the identity a process runs with.
type Exec struct {
	Name   string // user name, empty if the uid has no passwd entry
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
	Home   string
}

// Resolve turns spec (user[:group]) into an Exec identity using the given
// passwd and group entries. Unknown names are errdefs.ErrInvalidParameter
// class errors with docker's wording.
func Resolve(spec string, users []User, groups []Group) (Exec, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	e := Exec{Home: "/"}
	if uid, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		e.UID = uint32(uid)
		if u, ok := findUID(users, int(uid)); ok {
			e.Name, e.GID, e.Home = u.Name, uint32(u.GID), u.Home
		}
	} else {
		u, ok := findName(users, userPart)
		if !ok {
			return Exec{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file: %w", userPart, errdefs.ErrInvalidParameter)
		}
		e.Name, e.UID, e.GID, e.Home = u.Name, uint32(u.UID), uint32(u.GID), u.Home
	}
	if e.Home == "" {
		e.Home = "/"
	}
	if hasGroup && groupPart != "" {
		if gid, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			e.GID = uint32(gid)
		} else {
			g, ok := findGroup(groups, groupPart)
			if !ok {
				return Exec{}, fmt.Errorf("unable to find group %s: no matching entries in group file: %w", groupPart, errdefs.ErrInvalidParameter)
			}
			e.GID = uint32(g.GID)
		}
	}
	if e.Name != "" {
		seen := map[uint32]bool{}
		for _, g := range groups {
			if seen[uint32(g.GID)] || !member(g, e.Name) {
				continue
			}
			seen[uint32(g.GID)] = true
			e.Groups = append(e.Groups, uint32(g.GID))
		}
	}
	return e, nil
}

// AddGroups adds docker's --group-add entries (group names or numbers)
// to e's supplementary groups, each once. An unknown name is an
// errdefs.ErrInvalidParameter class error with runc's wording.
func (e *Exec) AddGroups(add []string, groups []Group) error {
	have := map[uint32]bool{}
	for _, g := range e.Groups {
		have[g] = true
	}
	for _, a := range add {
		var gid uint32
		if n, err := strconv.ParseUint(a, 10, 32); err == nil {
			gid = uint32(n)
		} else {
			g, ok := findGroup(groups, a)
			if !ok {
				//lint:ignore ST1005 runc's text, as dockerd reports it
				return fmt.Errorf("Unable to find group %s: no matching entries in group file: %w", a, errdefs.ErrInvalidParameter)
			}
			gid = uint32(g.GID)
		}
		if !have[gid] {
			have[gid] = true
			e.Groups = append(e.Groups, gid)
		}
	}
	return nil
}

func findUID(users []User, uid int) (User, bool) {
	for _, u := range users {
		if u.UID == uid {
			return u, true
		}
	}
	return User{}, false
}

func findName(users []User, name string) (User, bool) {
	for _, u := range users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func findGroup(groups []Group, name string) (Group, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

func member(g Group, name string) bool {
	for _, m := range g.Members {
		if m == name {
			return true
		}
	}
	return false
}
