// Package stats summarises repeated timings: median, percentiles, mean.
//
// Callers collect one sample per repetition (a duration or any float) and
// ask for the figures they print. Percentiles use the nearest-rank method on
// a sorted copy, so the p90 of 10 samples is the 9th smallest; the input is
// never reordered. An empty sample set has no figures: every function
// returns ok=false for it.
package stats
