// Package execspec prepares how the tether runs a container's main
// process: the environment (docker's defaults), paths resolved inside the
// container root without escaping it (symlinks, absolute ones included,
// are followed relative to the root, as if chrooted), the PATH lookup of
// the command, and the exit code docker reports when a command cannot run
// (127 not found, 126 not executable).
package execspec
