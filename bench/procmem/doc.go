// Package procmem measures the host memory of processes.
//
// PSS (proportional set size, from /proc/<pid>/smaps_rollup) is the figure
// the benchmark uses: pages shared between processes (the QEMU binary and
// its libraries, the busybox image's page cache mapped by several shims)
// are divided among their users, so summing PSS over a set of processes
// counts every page once. Where smaps_rollup is missing, RSS from
// /proc/<pid>/status stands in and the Sample says so.
//
// Tree walks /proc for a process and all its descendants at one moment;
// processes that end during the walk are skipped, not errors.
package procmem
