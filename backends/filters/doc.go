// Package filters holds docker's list filters for containers (docker ps)
// and images (docker images) as pure functions over plain records, so every
// rule is table-tested without a port layer.
//
// Callers build the records (Container, Image) from port-layer state, then
// call NewContainerFilter / NewImageFilter with the request's filters.Args:
// unknown keys and bad values come back as InvalidParameter errors with
// docker's texts, and the returned filter decides membership.
package filters
