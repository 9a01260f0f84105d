// Package vice is the schema of a vSphere VCH's configuration: the
// endpoint VM's extraConfig keys under "guestinfo.vice.", as VIC kept it.
// vic-machine writes it (Encode), the appliance's vchd and the vSphere port
// layer read it back (Decode); nothing else knows the key names.
//
// Key layout: one key per leaf field, named by the `vice` tags along the
// path, lower case, lists indexed from 0:
//
//	guestinfo.vice.name                         = vch02
//	guestinfo.vice.version                      = v1.2.3
//	guestinfo.vice.storage.image.datastore      = datastore1
//	guestinfo.vice.storage.volume.0.label       = default
//	guestinfo.vice.network.container.1.portgroup = dpg-web
//
// Key names use only [a-z0-9.] and fields hold no shell metacharacters of
// their own (govmomi's simulator joins docker-create arguments unquoted);
// values are whatever the user named things (a port group "VM Network").
//
// Secrets (fields tagged `vice:"name,secret"`) are stored as
// "guestinfo.vice.secret.NAME" = base64url(AES-256-GCM nonce|ciphertext)
// under a per-VCH key kept in its own extraConfig key, KeyKey. So the
// config shown by inspect, task logs and `vmware-rpctool` dumps of the
// other keys holds no clear text; whoever can read the VM's whole
// extraConfig can still decrypt (as in VIC, this is obfuscation against
// casual reads, not access control).
package vice
