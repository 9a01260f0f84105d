// Command vcsim serves govmomi's vCenter simulator (the VPX model: DC0,
// cluster DC0_C0 of 3 hosts, standalone host DC0_H0, datastore LocalDS_0,
// port groups "VM Network" and DC0_DVPG0…) over TLS, for driving a built
// vic-machine against a vCenter in tests and by hand. It prints one line,
// "HOST:PORT THUMBPRINT", then serves until stdin closes or a signal.
//
//	go run ./tests/vcsim -user administrator@vsphere.local -password secret
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	user := flag.String("user", "administrator@vsphere.local", "the only user that may log in")
	password := flag.String("password", "secret", "its password")
	portgroups := flag.Int("portgroups", 2, "distributed port groups (DC0_DVPG0…)")
	relayTo := flag.String("relay", "", "HOST:PORT: relay standard input and output to it (a QEMU guestfwd command) instead of serving")
	flag.Parse()
	if *relayTo != "" {
		if err := relay(*relayTo); err != nil {
			fmt.Fprintln(os.Stderr, "vcsim -relay:", err)
			os.Exit(1)
		}
		return
	}

	// A client that checks the simulator's certificate by its thumbprint
	// (govmomi's soap client: vic-machine, vchd) first tries a verified
	// handshake, which fails: the server would log a line for each of its
	// connections, hundreds a minute, burying the rest of a test's output.
	log.SetOutput(dropLines{w: os.Stderr, marker: []byte("TLS handshake error")})

	m := simulator.VPX()
	m.Portgroup = *portgroups
	if err := m.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		os.Exit(1)
	}
	defer m.Remove()
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *password)}
	s := m.Service.NewServer()
	defer s.Close()
	fmt.Printf("%s %s\n", s.URL.Host, soap.ThumbprintSHA1(s.Certificate()))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
}

// relay copies standard input to a TCP connection to addr and the
// connection to standard output; it ends when the peer has closed its
// side (after standard input's end has been passed on as a half-close).
func relay(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, os.Stdin)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(os.Stdout, c)
	return err
}

// dropLines passes on the log lines (one per Write, as package log
// writes them) that do not hold marker.
type dropLines struct {
	w      io.Writer
	marker []byte
}

func (d dropLines) Write(p []byte) (int, error) {
	if bytes.Contains(p, d.marker) {
		return len(p), nil
	}
	return d.w.Write(p)
}
