// Package fakestore is an in-memory storage.Store for backends' tests:
// Pull serves images registered with Remote under a reference, replaying
// the progress set with Script; Local adds an image as if pulled. Nothing
// touches the network or disk.
package fakestore
