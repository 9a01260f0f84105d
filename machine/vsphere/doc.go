// Package vsphere is vic-machine's vSphere target: a VCH is a resource
// pool (with the VCH's limits, reservations and shares) holding an
// endpoint VM whose extraConfig carries the VCH's configuration under
// guestinfo.vice. keys (schema: internal/vice), an image store folder and
// volume store folders on datastores.
//
// Callers' checklist:
//  1. ParseTarget the --target value, then Connect (password, thumbprint).
//     Connect checks the server certificate itself: an untrusted one whose
//     thumbprint was not given, or one that does not match --thumbprint, is
//     a *ThumbprintError naming the thumbprint to use.
//  2. Create validates everything first (placement, datastores, port
//     groups, name, bridge port group not another VCH's, reservations the
//     parent pool can give) and changes nothing when any check fails. It
//     then makes pool, VM, folders and permissions, pushing an undo step for
//     each; a failure midway runs the undo steps in reverse.
//  3. List/Inspect find VCHs by their endpoint VMs' extraConfig
//     (guestinfo.vice.name), Configure/Upgrade/Delete act on one found by
//     name (and optionally --id), UpdateFirewall toggles the ESXi ruleset
//     the container VMs' serial ports need on every host of the compute
//     resource.
package vsphere
