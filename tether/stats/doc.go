// Package stats samples a Linux guest's counters for docker stats: CPU
// time (/proc/stat), memory (/proc/meminfo), network interfaces
// (/sys/class/net/*/statistics), disks (/proc/diskstats) and the number
// of processes. Sample reads from the roots it is given, so tests feed it
// a fake /proc and /sys.
package stats
