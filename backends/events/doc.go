// Package events is the VCH's event log: docker's /events as a service.
//
// Backends publish what happened (Log); the daemon's /events route
// subscribes (Subscribe) and streams. The caller's checklist:
//
//  1. Build one Service per VCH with New and hand it to every backend that
//     publishes (containers, images, volumes, networks).
//  2. Publishers call Log with docker's type, action and actor. Log never
//     blocks on a subscriber: a subscriber whose buffer is full is dropped
//     (its channel closes, Err says why) and may reconnect with since.
//  3. A reader calls Subscribe with since (zero: no replay) and a Filter;
//     it gets the kept events at or after since, in order, and a
//     Subscription that yields every later event exactly once. It calls
//     Close when done.
//
// The Service keeps the last Capacity events in a ring buffer for since
// replay; older ones are gone, as in dockerd (which keeps 256).
package events
