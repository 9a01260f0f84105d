package control

import (
	"encoding/json"
	"io"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

// Archiver serves archive sessions (proto.ChanArchive) in the container's
// root (the tether implements it with package archive).
type Archiver interface {
	// Begin admits one session; end must be called when it is over. It
	// fails once the VM is powering off (the host then waits for the VM
	// to end and asks again).
	Begin() (end func(), err error)
	Stat(path string) (proto.PathStat, error)
	// Get calls started with the stat of path, then writes its tar to w.
	Get(path string, w io.Writer, started func(proto.PathStat) error) error
	// PutTarget checks the extraction point and returns its stat.
	PutTarget(path string) (proto.PathStat, error)
	Put(path string, r io.Reader, copyUIDGID, noOverwriteDirNonDir bool) error
	Changes(w io.Writer) error
	// Layer writes the writable layer as an OCI layer tar, with the
	// container's processes stopped meanwhile if freeze.
	Layer(w io.Writer, freeze bool) error
	// Export writes the tar of the whole root filesystem.
	Export(w io.Writer) error
	Size() (proto.Sizes, error)
	// Kind classifies an error of the methods above (proto.ArchiveNotFound, ...).
	Kind(err error) string
}

func (s *Server) handleArchive(nc ssh.NewChannel) {
	var spec proto.ArchiveSpec
	if err := json.Unmarshal(nc.ExtraData(), &spec); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad archive spec: "+err.Error())
		return
	}
	if s.Archive == nil {
		nc.Reject(ssh.Prohibited, "archive is not available")
		return
	}
	a := s.Archive
	end, err := a.Begin()
	if err != nil {
		nc.Reject(ssh.Prohibited, err.Error())
		return
	}
	defer end()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	defer ch.Close()
	reply := func(typ string, r proto.ArchiveReply, err error) {
		if err != nil {
			r.Error, r.Kind = err.Error(), a.Kind(err)
			s.log.Debug("archive request failed", zap.String("op", spec.Op), zap.String("path", spec.Path), zap.Error(err))
		}
		sendJSON(ch, typ, r)
	}
	switch spec.Op {
	case proto.ArchiveStat:
		st, err := a.Stat(spec.Path)
		reply(proto.ReqArchiveReply, proto.ArchiveReply{Stat: &st}, err)
	case proto.ArchiveGet:
		sent := false
		err := a.Get(spec.Path, ch, func(st proto.PathStat) error {
			sent = true
			reply(proto.ReqArchiveReply, proto.ArchiveReply{Stat: &st}, nil)
			return nil
		})
		if !sent {
			reply(proto.ReqArchiveReply, proto.ArchiveReply{}, err)
		} else {
			reply(proto.ReqArchiveDone, proto.ArchiveReply{}, err)
		}
	case proto.ArchivePut:
		st, err := a.PutTarget(spec.Path)
		reply(proto.ReqArchiveReply, proto.ArchiveReply{Stat: &st}, err)
		if err != nil {
			return
		}
		// On a refused archive the reply goes out at once; the host then
		// closes the channel, which ends its writes.
		err = a.Put(spec.Path, ch, spec.CopyUIDGID, spec.NoOverwriteDirNonDir)
		reply(proto.ReqArchiveDone, proto.ArchiveReply{}, err)
	case proto.ArchiveChanges:
		reply(proto.ReqArchiveReply, proto.ArchiveReply{}, nil)
		reply(proto.ReqArchiveDone, proto.ArchiveReply{}, a.Changes(ch))
	case proto.ArchiveLayer:
		reply(proto.ReqArchiveReply, proto.ArchiveReply{}, nil)
		reply(proto.ReqArchiveDone, proto.ArchiveReply{}, a.Layer(ch, spec.Freeze))
	case proto.ArchiveExport:
		reply(proto.ReqArchiveReply, proto.ArchiveReply{}, nil)
		reply(proto.ReqArchiveDone, proto.ArchiveReply{}, a.Export(ch))
	case proto.ArchiveSize:
		sz, err := a.Size()
		reply(proto.ReqArchiveReply, proto.ArchiveReply{Size: &sz}, err)
	default:
		reply(proto.ReqArchiveReply, proto.ArchiveReply{}, errUnknownOp(spec.Op))
	}
	_ = ch.CloseWrite()
}

type errUnknownOp string

func (e errUnknownOp) Error() string { return "unknown archive operation " + string(e) }
