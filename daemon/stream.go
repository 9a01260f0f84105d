package daemon

import (
	"bufio"
	"encoding/json"
	"net/http"
)

type bufioReadWriter = bufio.ReadWriter

func writeStreamError(w http.ResponseWriter, err error) error {
	msg := map[string]any{"errorDetail": map[string]string{"message": err.Error()}, "error": err.Error()}
	b, _ := json.Marshal(msg)
	_, werr := w.Write(append(b, '\n'))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return werr
}
