package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// evilRegistry serves one image, busybox, as "evil/busybox:latest", with
// whatever one scenario breaks.
type evilRegistry struct {
	img      *fixture.Image
	manifest func(w http.ResponseWriter, r *http.Request) bool // true: handled
	blob     func(w http.ResponseWriter, r *http.Request, dgst string) bool
}

func (e *evilRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(p, "/v2/evil/busybox/manifests/"):
		if e.manifest != nil && e.manifest(w, r) {
			return
		}
		w.Header().Set("Content-Type", fixture.MediaTypeManifest)
		w.Header().Set("Docker-Content-Digest", e.img.ManifestDigest())
		w.Header().Set("Content-Length", fmt.Sprint(len(e.img.Manifest)))
		if r.Method == http.MethodGet {
			w.Write(e.img.Manifest)
		}
	case strings.HasPrefix(p, "/v2/evil/busybox/blobs/"):
		dgst := strings.TrimPrefix(p, "/v2/evil/busybox/blobs/")
		if e.blob != nil && e.blob(w, r, dgst) {
			return
		}
		var b []byte
		if dgst == digestOf(e.img.Config) {
			b = e.img.Config
		}
		for _, l := range e.img.Layers {
			if l.Digest == dgst {
				b = l.Blob
			}
		}
		if b == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// TestHostileRegistries: each broken registry gets a clear error within
// the store's timeouts, and leaves the store as it was: no image, no blob
// of the failed pull, and the next pull of a good image works.
func TestHostileRegistries(t *testing.T) {
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	layer := bb.Layers[0].Digest
	for _, tc := range []struct {
		name string
		evil evilRegistry
		want string // in the error
	}{
		{"bad layer digest", evilRegistry{blob: func(w http.ResponseWriter, r *http.Request, d string) bool {
			if d != layer {
				return false
			}
			b := bytes.Clone(bb.Layers[0].Blob)
			b[len(b)/2] ^= 0xff
			w.Write(b)
			return true
		}}, "digest"},
		{"truncated layer", evilRegistry{blob: func(w http.ResponseWriter, r *http.Request, d string) bool {
			if d != layer {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(bb.Layers[0].Blob)))
			w.Write(bb.Layers[0].Blob[:len(bb.Layers[0].Blob)/2])
			return true // the handler returns early: the connection ends short
		}}, "download layer"},
		{"manifest of the wrong media type", evilRegistry{manifest: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>not a manifest</html>"))
			return true
		}}, "manifest"},
		{"redirect loop", evilRegistry{blob: func(w http.ResponseWriter, r *http.Request, d string) bool {
			if d != layer {
				return false
			}
			http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
			return true
		}}, "redirect"},
		{"endless layer", evilRegistry{blob: func(w http.ResponseWriter, r *http.Request, d string) bool {
			if d != layer {
				return false
			}
			chunk := bytes.Repeat([]byte{0}, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			return true
		}}, "download layer"},
		{"endless manifest", evilRegistry{manifest: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", fixture.MediaTypeManifest)
			if r.Method == http.MethodHead {
				return true
			}
			chunk := bytes.Repeat([]byte{' '}, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			return true
		}}, "manifest"},
		{"hanging registry", evilRegistry{blob: func(w http.ResponseWriter, r *http.Request, d string) bool {
			if d != layer {
				return false
			}
			<-r.Context().Done()
			return true
		}}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.evil.img = bb
			srv := httptest.NewServer(&tc.evil)
			defer srv.Close()
			s, err := New(t.TempDir(), nil, WithStallTimeout(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			host := strings.TrimPrefix(srv.URL, "http://")
			_, err = s.Pull(ctx, host+"/evil/busybox:latest", storage.PullOptions{})
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
				t.Fatalf("pull: %v, want an error about %q", err, tc.want)
			}
			t.Logf("error: %v", err)
			if imgs, _ := s.List(ctx); len(imgs) != 0 {
				t.Fatalf("a failed pull left images %+v", imgs)
			}
			if n, err := s.BlobCount(ctx); err != nil || n > 2 {
				// The manifest and config may stay (small, shared by the
				// next pull of the image); no layer of a failed pull does.
				t.Fatalf("a failed pull left %d blobs (%v)", n, err)
			}
			good := fixture.StartRegistry(t)
			if err := good.Push(ctx, "busybox", "latest", bb); err != nil {
				t.Fatal(err)
			}
			img, err := s.Pull(ctx, good.Addr+"/busybox:latest", storage.PullOptions{})
			if err != nil || img.ID != bb.ID() {
				t.Fatalf("the next pull: %v", err)
			}
			if _, err := s.RootFS(ctx, img.ID); err != nil {
				t.Fatalf("rootfs after a failed pull: %v", err)
			}
		})
	}
}
