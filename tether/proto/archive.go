package proto

import (
	"io/fs"
	"time"
)

// Archive sessions (docker cp, diff, container sizes): one SSH channel of
// type ChanArchive per operation. The host opens it with an ArchiveSpec
// (JSON) as extra data; the tether accepts it and:
//
//   - ArchiveStat: sends ReqArchiveReply (ArchiveReply with Stat of Path or
//     Error) and closes the channel.
//   - ArchiveGet: sends ReqArchiveReply (Stat or Error); without an error it
//     then writes the tar of Path as channel data, sends ReqArchiveDone
//     (ArchiveReply, Error set if the tar could not be finished), closes.
//   - ArchivePut: resolves Path (which must be a directory) and sends
//     ReqArchiveReply (its Stat or Error); without an error the host writes
//     the tar as channel data and CloseWrites; the tether extracts it into
//     Path and sends ReqArchiveDone (Error if the archive was refused; then
//     nothing it created is left) and closes.
//   - ArchiveChanges: sends ReqArchiveReply, then writes the changes of
//     the writable layer as JSON lines (Change) as channel data, then
//     ReqArchiveDone.
//   - ArchiveLayer: sends ReqArchiveReply, then writes the writable layer
//     as an OCI image layer tar (whiteouts as .wh. entries) as channel
//     data, then ReqArchiveDone (docker commit).
//   - ArchiveExport: sends ReqArchiveReply, then writes the tar of the
//     whole root filesystem (docker export), then ReqArchiveDone.
//   - ArchiveSize: sends ReqArchiveReply with Size set, closes.
//
// Paths are absolute in the container; the tether confines every lookup
// and every write to the container's root filesystem.
const (
	ChanArchive      = "vch-archive"
	ReqArchiveReply  = "vch-archive-reply"
	ReqArchiveDone   = "vch-archive-done"
	ArchiveStat      = "stat"
	ArchiveGet       = "get"
	ArchivePut       = "put"
	ArchiveChanges   = "changes"
	ArchiveSize      = "size"
	ArchiveLayer     = "layer"
	ArchiveExport    = "export"
	ReqPowerOff      = "vch-poweroff" // global request: maintenance VM, unmount and power off
	ArchiveNotFound  = "notfound"     // ArchiveReply.Kind: Path does not exist
	ArchiveInvalid   = "invalid"      // bad path or archive (not a directory, hostile entry, truncated)
	ArchiveForbidden = "forbidden"    // read-only file system
	// ArchiveStopping is the reject message of a ChanArchive open while
	// the VM powers off: the host waits for its end and asks again.
	ArchiveStopping = "the container is stopping"
)

// ArchiveSpec is the extra data of a ChanArchive open.
type ArchiveSpec struct {
	Op   string `json:"op"`
	Path string `json:"path,omitempty"`
	// CopyUIDGID keeps the archive's owners (docker cp -a); else the
	// extracted files belong to root.
	CopyUIDGID bool `json:"copyUIDGID,omitempty"`
	// NoOverwriteDirNonDir refuses to replace a directory by a
	// non-directory or the reverse.
	NoOverwriteDirNonDir bool `json:"noOverwriteDirNonDir,omitempty"`
	// Freeze (ArchiveLayer): stop the container's processes while the
	// layer is read (docker commit --pause), unless they are stopped
	// already (a paused container).
	Freeze bool `json:"freeze,omitempty"`
}

// PathStat is docker's container.PathStat.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       fs.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// ArchiveReply is the payload of ReqArchiveReply and ReqArchiveDone.
type ArchiveReply struct {
	Stat  *PathStat `json:"stat,omitempty"`
	Size  *Sizes    `json:"size,omitempty"`
	Error string    `json:"error,omitempty"`
	Kind  string    `json:"kind,omitempty"` // class of Error: ArchiveNotFound, ArchiveInvalid, ArchiveForbidden; "" other
}

// Sizes of a container's file systems in bytes.
type Sizes struct {
	RW int64 `json:"rw"` // files in the writable layer
}

// Change kinds, as docker diff's.
const (
	ChangeModify = 0
	ChangeAdd    = 1
	ChangeDelete = 2
)

// Change is one changed path of the writable layer.
type Change struct {
	Path string `json:"path"`
	Kind int    `json:"kind"`
}
