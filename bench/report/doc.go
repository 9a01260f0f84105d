// Package report holds the figures of one benchmark run and renders them.
//
// A run fills a Report: the machine it ran on, the options, and one Row per
// figure. A measurement first Defines its rows (so a figure that could not be
// taken still shows, as n/a with the reason), then Sets the value it measured
// on each target, vch and dockerd. Markdown renders the table that bench/run
// prints, with the ratio vch ÷ dockerd; WriteJSON writes the same figures to
// bench/results/<date>.json. Worst ranks rows by how much worse vch is than
// dockerd, whichever direction is better for that row.
package report
