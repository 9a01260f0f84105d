// Package volume is the port layer's view of container volumes.
//
// A volume is a file system with a fixed capacity that lives in a named
// volume store and outlives the containers that mount it. The lifecycle of
// one volume, in the words this package uses:
//
//  1. Create(opts) allocates the volume in the store opts.Store with
//     opts.Capacity bytes (the cap is enforced: writes past it fail with
//     ENOSPC inside the container). Nothing mounts it yet.
//  2. At a container's start the compute provider asks Disk(name) for what
//     it attaches to the VM (for the local provider: an ext4 image file
//     passed as a virtio-blk disk); the tether mounts it at the container
//     path.
//  3. When the VM powers off the guest unmounts it; the data stays.
//  4. Remove(name) deletes the volume and its data. Whether a container
//     still uses it is the caller's business (the docker personality knows
//     which containers mount what); the compute provider refuses to boot a
//     second VM on a volume a running VM holds.
//
// Every method returns errdefs classes: ErrNotFound for an unknown volume or
// store, ErrAlreadyExists from Create for a taken name, ErrInvalidParameter
// for a bad name or capacity. Callers that only read ask for Reader.
//
// Callers' checklist:
//
//  1. Build a Provider over the VCH's stores (local.New for the local
//     host); the store labelled DefaultStore holds anonymous volumes.
//  2. Create volumes with Create; Normalize applies the same defaults and
//     checks every provider applies.
//  3. Give the compute provider the Attacher, so a container start attaches
//     each volume the container's spec mounts.
//  4. Before Remove, check no container mounts the volume.
//
// volumetest holds the conformance suite every provider passes.
package volume
