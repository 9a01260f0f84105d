package proto

// ReqNIC (global request): payload NICRequest; configures or parks one
// NIC of a running guest (network connect and disconnect on a running
// container, through the spare NICs the VM booted with).
const ReqNIC = "vch-nic"

// NICRequest is the payload of ReqNIC. Up: give the NIC with Interface.MAC
// its address (no default route) and bring it up. Not Up: remove its
// addresses and bring it down.
type NICRequest struct {
	Interface Interface `json:"interface"`
	Up        bool      `json:"up"`
}
