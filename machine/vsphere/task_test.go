package vsphere

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// taskFolder is the datacenter's VM folder with CreateVM_Task replaced:
// the task fails, or (release set) runs until release is closed.
type taskFolder struct {
	*simulator.Folder
	release chan struct{}
}

func (f *taskFolder) CreateVMTask(ctx *simulator.Context, req *types.CreateVM_Task) soap.HasFault {
	task := simulator.CreateTask(req.This, "createVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if f.release != nil {
			<-f.release
			return nil, &types.RequestCanceled{}
		}
		return nil, &types.InsufficientResourcesFault{}
	})
	return &methods.CreateVM_TaskBody{Res: &types.CreateVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// A CreateVM task that ends in error, and one that does not end before
// the deadline: create returns the task's fault (or the deadline) and
// removes the pool it had made.
func TestCreateTaskFailsOrHangs(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	folders, err := s.Datacenter.Folders(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	orig := sm.model.Map().Get(folders.VmFolder.Reference()).(*simulator.Folder)
	before := inventory(t, s)
	defer sm.model.Map().Put(orig)

	sm.model.Map().Put(&taskFolder{Folder: orig})
	_, err = s.Create(ctxT(t), baseOptions("failing-task"))
	if !fault.Is(err, &types.InsufficientResourcesFault{}) {
		t.Errorf("create with a failing CreateVM task: %v", err)
	}
	if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
		t.Errorf("failed task left the target changed: gone %q, added %q", gone, added)
	}

	release := make(chan struct{})
	sm.model.Map().Put(&taskFolder{Folder: orig, release: release})
	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	_, err = s.Create(ctx, baseOptions("stuck-task"))
	close(release) // the task may end now (canceled); it made nothing
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("create with a CreateVM task that does not end: %v", err)
	}
	sm.model.Map().Put(orig)
	if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
		t.Errorf("stuck task left the target changed: gone %q, added %q", gone, added)
	}
}
