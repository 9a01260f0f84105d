package tether

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// recordWriter writes log records to the PortLog port, one at a time.
type recordWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// write emits data as records of kind, split at MaxRecordPayload.
func (r *recordWriter) write(kind byte, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		n := min(len(data), proto.MaxRecordPayload)
		if _, err := r.w.Write(proto.EncodeRecord(kind, time.Now(), data[:n])); err != nil {
			return err
		}
		data = data[n:]
		if len(data) == 0 {
			return nil
		}
	}
}

// event emits one event record.
func (r *recordWriter) event(ev proto.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return r.write(proto.KindEvent, b)
}

// streamWriter adapts one output stream to io.Writer.
type streamWriter struct {
	r    *recordWriter
	kind byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.r.write(s.kind, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
