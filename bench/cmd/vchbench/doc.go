// Command vchbench is the benchmark behind `make bench` (bench/run): it
// compares vch with Docker Engine (dockerd + runc) doing the same work, on
// the same machine, with the same docker CLI and the same images from one
// local registry, and prints a markdown table plus
// bench/results/<date>.json.
//
// It must run as root inside a network namespace that holds only loopback;
// bench/run creates one, enters it with nsenter --net and starts vchbench
// there, so the registry, both daemons, the CLI and the HTTP load all live
// on that namespace's 127.0.0.1.
package main
