// Package harness starts, drives and tears down what a benchmark run needs:
// a private Docker Engine, a VCH, the local registry, and the docker CLI
// pointed at each.
//
// Callers' checklist:
//
//  1. Run inside a network namespace of your own with only loopback in it
//     (bench/run makes one and enters it with nsenter --net, which keeps the
//     cgroup mounts dockerd needs). CheckNetns refuses to go on in the
//     host's namespace or beside any interface but lo, so no packet of the
//     benchmark can leave the machine; it brings lo up.
//  2. Make a Stack and defer its Unwind. Every Start… function pushes the
//     undo of what it created (stop the daemon, delete the VCH, unmount and
//     remove data directories) before returning, so an error or a signal at
//     any point unwinds exactly what exists, once, in reverse order.
//  3. StartDockerd and StartVCH return a Target: the environment the docker
//     CLI needs to reach that daemon (Target.CLI), an API client for the
//     fast paths (thousands of creates), and how to tell the daemon's own
//     processes from each container's for memory accounting.
//
// Daemons run in their own process groups, so an interrupt of bench/run
// reaches only the harness, which then stops them in order.
package harness
