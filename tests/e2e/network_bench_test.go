package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkPublishedPort measures, on a VCH in its own namespace, the time
// from `docker run -d -p` until the port answers, and HTTP requests
// through the published port (vchd's proxy) against the container's own
// address (the bridge, no proxy).
//
//	flock /tmp/vch-vm.lock go test -count=1 -run '^$' -bench PublishedPort -benchtime 5x ./tests/e2e
func BenchmarkPublishedPort(b *testing.B) {
	v := newNetVCH(b)
	img := env.busybox
	if r := v.docker(b, "pull", img); r.Exit != 0 {
		b.Fatalf("pull: %s", r)
	}
	b.Run("RunUntilPortAnswers", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("bench%d", i)
			start := time.Now()
			if r := v.docker(b, "run", "-d", "--name", name, "-p", "8090:80", img, "sh", "-c", webCmd); r.Exit != 0 {
				b.Fatalf("run: %s", r)
			}
			for {
				if got, err := fetch(v.ns, "http://127.0.0.1:8090/"); err == nil && strings.Contains(got, "hello-from-vch") {
					break
				}
				if time.Since(start) > 2*time.Minute {
					b.Fatal("port never answered")
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.StopTimer()
			v.docker(b, "rm", "-f", name)
			b.StartTimer()
		}
	})
	if r := v.docker(b, "run", "-d", "--name", "web", "-p", "8091:80", img, "sh", "-c", webCmd); r.Exit != 0 {
		b.Fatalf("run: %s", r)
	}
	ip := strings.TrimSpace(v.docker(b, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web").Stdout)
	for _, tc := range []struct{ name, url string }{
		{"RequestsViaPublishedPort", "http://127.0.0.1:8091/"},
		{"RequestsDirectToContainer", "http://" + ip + ":80/"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := v.ns.HTTPClient(30 * time.Second)
			deadline := time.Now().Add(2 * time.Minute)
			for {
				if resp, err := client.Get(tc.url); err == nil {
					resp.Body.Close()
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("no answer")
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				resp, err := client.Get(tc.url)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}
