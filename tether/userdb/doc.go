// Package userdb resolves a container's user specification ("user",
// "user:group", names or numeric ids) against the text of the container's
// own /etc/passwd and /etc/group, the way docker (runc) does:
//
//   - an empty spec is root (uid 0, gid 0);
//   - a name must exist in passwd; a numeric uid need not (gid 0, home /);
//   - the group part, if given, overrides the primary gid; a name must
//     exist in group, a number need not;
//   - supplementary groups are the groups that list the user's name as a
//     member.
//
// It does no I/O beyond the readers it is given.
package userdb
