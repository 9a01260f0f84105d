// Package tetherlink is the host's end of the tether's channels, shared
// by the compute providers whatever carries them (QEMU's virtio-serial
// sockets, the vSphere serial concentrator's TCP connections): the log
// record files, the control handshake and the control requests and exec
// sessions on the SSH connection over it.
package tetherlink

import (
	"bytes"
	"errors"
	"io"
	"os"

	"github.com/vchproject/vch/tether/proto"
)

// Record is a decoded log record with the file offset it starts at.
type Record struct {
	proto.Record
	Off int64
}

// RecordReader decodes the proto log records of a file that may still be
// growing. Each poll returns the records completed since the last one; a
// partial record at the end stays pending until the rest is written.
type RecordReader struct {
	path    string
	f       *os.File
	off     int64  // file offset read up to
	pending []byte // bytes read but not yet decoded
	base    int64  // file offset of pending[0]
	skipped int64  // bytes dropped while resynchronising after garbage
}

// NewRecordReader reads path from offset off.
func NewRecordReader(path string, off int64) *RecordReader {
	return &RecordReader{path: path, off: off, base: off}
}

// Poll reads what was appended and decodes the complete records in it.
func (r *RecordReader) Poll() ([]Record, error) {
	if r.f == nil {
		f, err := os.Open(r.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		r.f = f
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.f.ReadAt(buf, r.off)
		r.pending = append(r.pending, buf[:n]...)
		r.off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return r.decode(), nil
}

// decode takes the complete records off the front of pending.
func (r *RecordReader) decode() []Record {
	var out []Record
	i := 0
	for i < len(r.pending) {
		rec, n, err := proto.DecodeRecord(r.pending[i:])
		if errors.Is(err, proto.ErrShortRecord) {
			break
		}
		if err != nil {
			// Not a record boundary: drop a byte and look again.
			i++
			r.skipped++
			continue
		}
		out = append(out, Record{Record: rec, Off: r.base + int64(i)})
		i += n
	}
	r.pending = append(r.pending[:0], r.pending[i:]...)
	r.base += int64(i)
	return out
}

// Close closes the file.
func (r *RecordReader) Close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Pending is how many bytes wait for the rest of their record.
func (r *RecordReader) Pending() int { return len(r.pending) }

// PendingOffset is the file offset of the first pending byte.
func (r *RecordReader) PendingOffset() int64 { return r.base }

// Skipped is how many bytes were dropped as no record.
func (r *RecordReader) Skipped() int64 { return r.skipped }

// SplitLines cuts records into one record per line (the last piece of a
// record without a newline stays a record of its own).
func SplitLines(recs []Record) []Record {
	var out []Record
	for _, rec := range recs {
		data := rec.Data
		for len(data) > 0 {
			n := bytes.IndexByte(data, '\n') + 1
			if n == 0 {
				n = len(data)
			}
			line := rec
			line.Data = data[:n]
			out = append(out, line)
			data = data[n:]
		}
	}
	return out
}
