// Package e2e drives the real docker CLI (/usr/local/bin/docker) against a
// real VCH: TestMain builds bin/ with make, creates a VCH with
// bin/vic-machine in a temporary state dir on a free port, runs a registry
// on 127.0.0.1 holding images built here (busybox from busybox-static), and
// deletes everything afterwards. Every user-facing feature has a test here.
package e2e
