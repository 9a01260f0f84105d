// Package ps lists the processes of a container VM for docker top: it
// reads a procfs (the guest's /proc) and formats a table the way procps'
// ps does for the option sets docker users pass: none or -ef (docker's
// default), -e/-A, aux, and -o/-eo/o with a keyword list (pid, ppid, user,
// uid, group, gid, comm, args/cmd/command, pcpu/%cpu, pmem/%mem, vsz, rss,
// stat/s, tty, time, etime, stime/start, nlwp, c).
//
// The tether (PID 1) and kernel threads are not the container's and are
// left out.
package ps
