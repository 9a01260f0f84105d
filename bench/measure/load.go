package measure

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LoadResult is what one HTTP load produced.
type LoadResult struct {
	OK       int64 // 2xx responses
	Failed   int64 // errors and other statuses
	Duration time.Duration
}

// PerSecond returns successful requests per second.
func (r LoadResult) PerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.OK) / r.Duration.Seconds()
}

// Load sends GET url on conns keep-alive connections for dur, stopping
// early after maxRequests in all. The URL must be a loopback address: the
// caller owns that check (Port only builds 127.0.0.1 URLs).
func Load(ctx context.Context, url string, conns int, dur time.Duration, maxRequests int64) (LoadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var ok, failed, issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && issued.Add(1) <= maxRequests {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					failed.Add(1)
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res := LoadResult{OK: ok.Load(), Failed: failed.Load(), Duration: time.Since(start)}
	if res.OK == 0 {
		return res, fmt.Errorf("load %s: no successful request (%d failed)", url, res.Failed)
	}
	return res, nil
}

// waitHTTP polls url until it answers 2xx or timeout passes.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not answering after %s: %w", url, timeout, last)
		case <-time.After(25 * time.Millisecond): // fine enough for the port.ready time
		}
	}
}
