// Package measure holds the benchmark's measurements. Each one does the same
// work on every target (vch, then dockerd's turn or the reverse), through
// the same docker CLI and the same API client library, and records its
// figures in a report.Report.
//
// A Measurement first Defines its rows, so that a figure a target could
// not produce still appears as n/a with the reason. Run then measures one
// target and leaves it as it found it: every container it made is removed
// before it returns, so measurements do not see each other's containers
// (and idle VMs of one measurement do not steal CPU from the next).
//
// Timings of CLI commands are wall time of the whole `docker …` process,
// as a user would see it; the same CLI binary serves both targets.
package measure
