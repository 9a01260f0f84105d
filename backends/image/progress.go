package image

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/docker/docker/pkg/jsonmessage"
	units "github.com/docker/go-units"
)

// progressStream writes docker's pull progress: one JSON message per line.
// Storage may report layers from several goroutines; writes are serialized.
type progressStream struct {
	mu  sync.Mutex
	w   io.Writer
	err error // first write error; later writes are dropped
}

func (p *progressStream) send(m jsonmessage.JSONMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		p.err = err
		return
	}
	_, p.err = p.w.Write(append(b, '\r', '\n'))
}

// status is a whole-pull line: "Pulling from ...", "Digest: ...", "Status: ...".
func (p *progressStream) status(id, text string) {
	p.send(jsonmessage.JSONMessage{ID: id, Status: text})
}

// layer is a per-layer line; docker always sends progressDetail for them.
func (p *progressStream) layer(id, text string, current, total int64) {
	jp := &jsonmessage.JSONProgress{Current: current, Total: total}
	//lint:ignore SA1019 docker's engine still sends the textual bar ("progress") and older clients print it
	p.send(jsonmessage.JSONMessage{ID: id, Status: text, Progress: jp, ProgressMessage: bar(current, total)})
}

// bar renders docker's textual progress: "[=====>      ]  1.2MB/4.5MB".
func bar(current, total int64) string {
	if current <= 0 && total <= 0 {
		return ""
	}
	cur := units.HumanSize(float64(current))
	if total <= 0 {
		return fmt.Sprintf("%8v", cur)
	}
	filled := min(int(float64(current)/float64(total)*100)/2, 50)
	box := fmt.Sprintf("[%s>%s] ", strings.Repeat("=", filled), strings.Repeat(" ", 50-filled))
	if current > total {
		return box
	}
	return box + fmt.Sprintf("%8v/%v", cur, units.HumanSize(float64(total)))
}
