package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/measure"
	"github.com/vchproject/vch/tests/fixture"
)

// Sizes of the pull benchmark's image: busybox plus bigLayers layers of
// bigLayerSize incompressible bytes (~100 MB in all).
const (
	bigLayers    = 5
	bigLayerSize = 20 << 20
)

// prepareImages starts the one registry both daemons pull from (inside the
// benchmark's namespace) and pushes the images: busybox, the ~100 MB
// image, and nginx when an extracted nginx package is at o.nginxRoot.
func prepareImages(ctx context.Context, log *zap.Logger, stack *harness.Stack, o options) (measure.Images, error) {
	dir := filepath.Join(o.work, "registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return measure.Images{}, fmt.Errorf("registry dir: %w", err)
	}
	reg, err := fixture.RunRegistry(dir)
	if err != nil {
		return measure.Images{}, err
	}
	stack.Push("stop registry", func(context.Context) error { reg.Close(); return nil })
	log.Info("registry up", zap.String("addr", reg.Addr))

	var imgs measure.Images
	if _, err := fixture.PushBusybox(ctx, reg.Addr, "bench/busybox", "latest"); err != nil {
		return imgs, fmt.Errorf("push busybox: %w", err)
	}
	imgs.Busybox = reg.Addr + "/bench/busybox:latest"

	big, err := fixture.Big(bigLayers, bigLayerSize)
	if err != nil {
		return imgs, fmt.Errorf("build big image: %w", err)
	}
	if err := fixture.Push(ctx, reg.Addr, "bench/big", "latest", big); err != nil {
		return imgs, fmt.Errorf("push big image: %w", err)
	}
	imgs.Big = reg.Addr + "/bench/big:latest"

	if o.nginxRoot == "" {
		return imgs, nil
	}
	ngx, err := nginxImage(o.nginxRoot)
	if err != nil {
		log.Warn("no nginx image", zap.Error(err))
		return imgs, nil
	}
	if err := fixture.Push(ctx, reg.Addr, "bench/nginx", "latest", ngx); err != nil {
		return imgs, fmt.Errorf("push nginx: %w", err)
	}
	imgs.Nginx = reg.Addr + "/bench/nginx:latest"

	// The compose app (nginx → app → redis) from the same Debian packages.
	type build struct {
		repo string
		img  func() (*fixture.Image, error)
		ref  *string
	}
	for _, b := range []build{
		{"bench/compose-web", func() (*fixture.Image, error) { return fixture.NginxImage(o.nginxRoot, proxyConf, nil) }, &imgs.ComposeWeb},
		{"bench/compose-app", func() (*fixture.Image, error) { return fixture.AppImage(o.nginxRoot) }, &imgs.ComposeApp},
		{"bench/compose-redis", func() (*fixture.Image, error) { return fixture.RedisImage(o.nginxRoot) }, &imgs.ComposeRedis},
	} {
		img, err := b.img()
		if err != nil {
			log.Warn("no compose app image", zap.String("repo", b.repo), zap.Error(err))
			imgs.ComposeWeb, imgs.ComposeApp, imgs.ComposeRedis = "", "", ""
			return imgs, nil
		}
		if err := fixture.Push(ctx, reg.Addr, b.repo, "latest", img); err != nil {
			return imgs, fmt.Errorf("push %s: %w", b.repo, err)
		}
		*b.ref = reg.Addr + "/" + b.repo + ":latest"
	}
	return imgs, nil
}

// proxyConf makes nginx the compose app's front: a reverse proxy to the
// service "app".
const proxyConf = `user root;
daemon off;
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 80;
        location / { proxy_pass http://app:8080; }
    }
}
`

// emptyRegistry starts registries with no content under work, one
// directory each, for the push measurement.
func emptyRegistry(work string) func() (string, func(), error) {
	n := 0
	return func() (string, func(), error) {
		n++
		dir := filepath.Join(work, fmt.Sprintf("push-registry-%d", n))
		reg, err := fixture.RunRegistry(dir)
		if err != nil {
			return "", nil, err
		}
		return reg.Addr, func() { reg.Close(); _ = os.RemoveAll(dir) }, nil
	}
}

const nginxConf = `user root;
daemon off;
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/html;
    sendfile on;
    keepalive_requests 100000;
    server {
        listen 80;
        root /usr/share/nginx/html;
        index index.html;
    }
}
`

// indexHTML is a page of the size of nginx's default welcome page.
var indexHTML = []byte("<!DOCTYPE html>\n<html><head><title>vch bench</title></head>\n<body><h1>vch bench</h1>\n" +
	"<p>Static page served by nginx for the published-port benchmark. Its size is close to that of nginx's default welcome page, so the figure is about requests, not bytes.</p>\n" +
	"<p>0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</p>\n" +
	"<p>0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</p>\n" +
	"</body></html>\n")

// nginxImage builds nginx from Debian's nginx package unpacked (not
// installed) at root, with the benchmark's config and page.
func nginxImage(root string) (*fixture.Image, error) {
	return fixture.NginxImage(root, nginxConf, map[string][]byte{"index.html": indexHTML})
}
