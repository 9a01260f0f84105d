// Package control is the guest side of the control channel (see
// tether/proto): the hello/go/ack handshake on the virtio-serial port and
// the SSH server that runs on the rest of the stream.
//
// The handshake logic is the pure Handshake type; Server is its driver.
// A caller (the tether):
//
//  1. opens the port once and keeps it open;
//  2. builds a Server with the config's host key (NewServer), a Process
//     (what the requests act on) and a clock setter;
//  3. runs srv.Serve(port) in a goroutine for the life of the VM: it
//     handshakes, serves one SSH connection until the host goes away, backs
//     off while the port reads EOF, and starts over.
//
// Requests: ReqSignal, ReqResize, ReqTime, ReqState, ReqTop, ReqNIC (global
// requests; ReqTop needs Server.Top); ChanStdin channels copy into the
// process's stdin (Process.Stdin); ChanExec channels are exec sessions
// (Server.Exec starts them; see proto.ChanExec for the protocol).
package control
