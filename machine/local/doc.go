// Package local is vic-machine's local target: a VCH is a directory under
// the state dir (default /var/lib/vch/<name>) holding its config, certs,
// images, container VMs and logs, and a detached vchd serving it.
//
// Callers' checklist: Create makes the directory, certificates and config,
// starts vchd detached (it outlives vic-machine) and waits until the API
// answers over mutual TLS; Delete stops vchd, kills every container VM it
// started (they run detached from vchd too) and removes the directory; List
// and Inspect read the state dir.
package local
