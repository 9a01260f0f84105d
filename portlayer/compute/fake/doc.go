// Package fake is an in-memory compute.Provider for tests of the layers
// above the port layer. It boots no VM: the "main process" is a Go function
// picked by the base name of Args[0] from Provider.Programs, so a test
// decides exactly what a container prints, reads, how it reacts to signals
// and with which code it exits, without timers.
//
// Builtin programs (see Builtins): true, false, echo, cat, sleep (ends on
// any terminating signal with 128+signal), stubborn (ignores every signal
// but SIGKILL) and sh (sh -c runs a tiny shell subset: echo [>&2], exit N,
// true, false, cat, env, pwd, trap "" SIGNAL, and sleep as the last command
// runs until a signal; plain sh behaves like sleep). An Args[0] with no
// program fails Start the way runc does:
// `exec: "x": executable file not found in $PATH`.
//
// Semantics follow compute.Provider's contract: Attach before Start
// subscribes to the next run (docker run attaches first), Wait conditions
// behave like docker's, Start of a running container is ErrNotModified (as
// the qemu provider), Signal/Kill/Resize of a stopped one and Remove of a
// running one are ErrConflict, Kill makes the exit code 137 unless the
// program already returned.
package fake
