package measure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadCountsAndStops(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Load(context.Background(), srv.URL, 4, time.Minute, 200)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 200 || res.Failed != 0 || served.Load() != 200 {
		t.Fatalf("result %+v, served %d; want exactly 200 ok", res, served.Load())
	}
	if res.PerSecond() <= 0 {
		t.Fatalf("rate %v", res.PerSecond())
	}
}

func TestLoadFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	res, err := Load(context.Background(), srv.URL, 2, time.Minute, 10)
	if err == nil || res.OK != 0 || res.Failed != 10 {
		t.Fatalf("result %+v, err %v; want 10 failures and an error", res, err)
	}
}

func TestWaitHTTP(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
	}))
	defer srv.Close()
	if err := waitHTTP(context.Background(), srv.URL, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("polled %d times, want 3", n.Load())
	}
}
