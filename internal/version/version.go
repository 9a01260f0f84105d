// Package version holds the build's version, set by the Makefile with
// -ldflags "-X github.com/vchproject/vch/internal/version.Version=...".
package version

// Set at link time; the defaults mark a build made without the Makefile.
var (
	Version   = "0.1.0-dev"
	GitCommit = "unknown"
	BuildTime = ""
)
