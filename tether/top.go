package tether

import (
	"bytes"
	"time"

	"github.com/vchproject/vch/tether/proto"
	"github.com/vchproject/vch/tether/ps"
	"github.com/vchproject/vch/tether/userdb"
)

// stats samples the guest for docker stats.
func (t *tether) stats() (proto.StatsReply, error) {
	procs, err := ps.Read("/proc")
	if err != nil {
		return proto.StatsReply{}, err
	}
	return t.cpu.Sample("/sys", len(procs))
}

// top lists the container's processes for docker top, with user and group
// names from the container's own /etc/passwd and /etc/group.
func (t *tether) top(args []string) (proto.TopReply, error) {
	cols, err := ps.Columns(args)
	if err != nil {
		return proto.TopReply{}, err
	}
	procs, err := ps.Read("/proc")
	if err != nil {
		return proto.TopReply{}, err
	}
	sys := ps.ReadSystem("/proc", time.Now())
	sys.Users, sys.Groups = map[int]string{}, map[int]string{}
	if b, err := readInRoot(t.root, "/etc/passwd"); err == nil {
		if users, err := userdb.ParsePasswd(bytes.NewReader(b)); err == nil {
			for _, u := range users {
				if _, dup := sys.Users[u.UID]; !dup {
					sys.Users[u.UID] = u.Name
				}
			}
		}
	}
	if b, err := readInRoot(t.root, "/etc/group"); err == nil {
		if groups, err := userdb.ParseGroup(bytes.NewReader(b)); err == nil {
			for _, g := range groups {
				if _, dup := sys.Groups[g.GID]; !dup {
					sys.Groups[g.GID] = g.Name
				}
			}
		}
	}
	tab, err := ps.Format(procs, sys, cols)
	if err != nil {
		return proto.TopReply{}, err
	}
	return proto.TopReply{Titles: tab.Titles, Processes: tab.Processes}, nil
}
