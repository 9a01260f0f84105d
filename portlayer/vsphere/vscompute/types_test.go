package vscompute_test

import (
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

type typesPVSCSI = types.ParaVirtualSCSIController

type mvmT = mo.VirtualMachine
