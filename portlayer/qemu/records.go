package qemu

import (
	"errors"
	"io"
	"os"

	"github.com/vchproject/vch/tether/proto"
)

// logRecord is a decoded log record with the file offset it starts at.
type logRecord struct {
	proto.Record
	Off int64
}

// recordReader decodes the proto log records of a file that may still be
// growing. Each poll returns the records completed since the last one; a
// partial record at the end stays pending until the rest is written.
type recordReader struct {
	path    string
	f       *os.File
	off     int64  // file offset read up to
	pending []byte // bytes read but not yet decoded
	base    int64  // file offset of pending[0]
	skipped int64  // bytes dropped while resynchronising after garbage
}

func newRecordReader(path string, off int64) *recordReader {
	return &recordReader{path: path, off: off, base: off}
}

// poll reads what was appended and decodes the complete records in it.
func (r *recordReader) poll() ([]logRecord, error) {
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
func (r *recordReader) decode() []logRecord {
	var out []logRecord
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
		out = append(out, logRecord{Record: rec, Off: r.base + int64(i)})
		i += n
	}
	r.pending = append(r.pending[:0], r.pending[i:]...)
	r.base += int64(i)
	return out
}

func (r *recordReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// fileSize is the size of path, 0 if it does not exist.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
