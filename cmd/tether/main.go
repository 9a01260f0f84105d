// Command tether is PID 1 of every vch container VM; see package tether.
// Build it static: CGO_ENABLED=0 go build ./cmd/tether.
package main

import "github.com/vchproject/vch/tether"

func main() {
	tether.Run()
}
