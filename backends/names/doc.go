// Package names holds docker's container-name rules for vch: generated
// "adjective_surname" names, the name syntax, and the index that resolves
// what a user typed (full ID, name with or without "/", unique ID prefix) to
// a container ID.
//
// The index is derived state: callers rebuild it from the port layer on
// start-up (Add for every stored container) and keep it current with
// Reserve/Release/Rename. It holds no data that is not also stored in the
// port layer.
package names
