// Package stucktask holds the test of a vSphere task that never finishes.
// It is its own test binary because the simulator's task delays are a
// process-wide variable (simulator.TaskDelay) that would stall every other
// test's power-ons.
package stucktask
