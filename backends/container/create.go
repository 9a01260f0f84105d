package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/image"
	"github.com/vchproject/vch/backends/names"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	pnetwork "github.com/vchproject/vch/portlayer/network"
)

// newID is 64 random hex digits, as docker's container IDs.
func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// reserveName takes the requested name, or generates one docker-style.
func (b *Backend) reserveName(requested, id string) (string, error) {
	if requested != "" {
		name, err := names.Normalize(requested)
		if err != nil {
			return "", err
		}
		return name, b.index.Reserve(name, id)
	}
	for attempt := 0; attempt < 10; attempt++ {
		name := "/" + names.Generate(attempt)
		if err := b.index.Reserve(name, id); err == nil {
			return name, nil
		}
	}
	name := "/" + id[:12] // docker falls back to the short ID as well
	return name, b.index.Reserve(name, id)
}

// hostEntries turns ExtraHosts ("name:ip" or "name=ip") into /etc/hosts lines.
func hostEntries(extra []string) ([]compute.HostEntry, []string, error) {
	var (
		out      []compute.HostEntry
		warnings []string
	)
	for _, h := range extra {
		sep := strings.IndexAny(h, ":=")
		if sep <= 0 {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("bad format for add-host: %q", h))
		}
		host, ip := h[:sep], strings.Trim(h[sep+1:], "[]")
		if ip == "host-gateway" {
			warnings = append(warnings, fmt.Sprintf("extra host %q: host-gateway is not supported yet; entry ignored", host))
			continue
		}
		if net.ParseIP(ip) == nil {
			return nil, nil, errdefs.InvalidParameter(fmt.Sprintf("invalid IP address in add-host: %q", ip))
		}
		out = append(out, compute.HostEntry{IP: ip, Names: []string{host}})
	}
	return out, warnings, nil
}

// defaultNetwork is docker's create-time rewrite of the network mode ""
// and "default" to the default network, "bridge", endpoint settings included.
func defaultNetwork(hc *container.HostConfig, nc *network.NetworkingConfig) *network.NetworkingConfig {
	if nc == nil {
		nc = &network.NetworkingConfig{}
	}
	if nc.EndpointsConfig == nil {
		nc.EndpointsConfig = map[string]*network.EndpointSettings{}
	}
	if hc.NetworkMode == "" || hc.NetworkMode.IsDefault() {
		hc.NetworkMode = network.NetworkBridge
		if ep, ok := nc.EndpointsConfig[network.NetworkDefault]; ok {
			nc.EndpointsConfig[network.NetworkBridge] = ep
			delete(nc.EndpointsConfig, network.NetworkDefault)
		}
	}
	return nc
}

// ContainerCreate defines a container VM from docker's create request.
func (b *Backend) ContainerCreate(ctx context.Context, req containerrouter.CreateConfig) (_ container.CreateResponse, err error) {
	if req.Config == nil {
		return container.CreateResponse{}, errdefs.InvalidParameter("config cannot be empty in order to create a container")
	}
	hc := &container.HostConfig{}
	if req.HostConfig != nil {
		h := *req.HostConfig
		hc = &h
	}
	netCfg := defaultNetwork(hc, req.NetworkingConfig)
	if err := validateRestart(hc); err != nil {
		return container.CreateResponse{}, err
	}
	if err := unsupportedHostConfig(hc, b.net != nil); err != nil {
		return container.CreateResponse{}, err
	}
	if err := validateLogConfig(hc.LogConfig); err != nil {
		return container.CreateResponse{}, err
	}
	img, err := b.cfg.Images.Resolve(ctx, req.Config.Image)
	if err != nil {
		return container.CreateResponse{}, err
	}
	imgCfg, err := image.Config(img)
	if err != nil {
		return container.CreateResponse{}, err
	}
	userCfg := *req.Config
	cfg, err := mergeConfig(&userCfg, imgCfg.Config)
	if err != nil {
		return container.CreateResponse{}, err
	}
	hosts, warnings, err := hostEntries(hc.ExtraHosts)
	if err != nil {
		return container.CreateResponse{}, err
	}
	if hc.CPUShares != 0 {
		warnings = append(warnings, sharesWarning)
	}
	id := newID()
	var eps []pnetwork.EndpointSpec
	if b.net != nil {
		name := req.Name
		if name == "" {
			name = id[:12] // the generated name is not known yet; see below
		}
		if eps, err = b.endpointSpecs(ctx, hc, cfg, netCfg, name, id); err != nil {
			return container.CreateResponse{}, err
		}
	}
	links, err := b.resolveLinks(ctx, hc.Links, eps)
	if err != nil {
		return container.CreateResponse{}, err
	}
	hosts = append(hosts, linkHosts(links)...)

	mounts, vmounts, tmpfs, undoMounts, err := b.prepareMounts(ctx, hc, cfg)
	if err != nil {
		return container.CreateResponse{}, err
	}
	defer func() {
		if err != nil {
			undoMounts()
		}
	}()

	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	name, err := b.reserveName(req.Name, id)
	if err != nil {
		return container.CreateResponse{}, err
	}
	for i := range eps {
		if eps[i].DNSNames != nil {
			eps[i].DNSNames = dnsNames(name, id, eps[i].Aliases)
		}
	}
	path, args := entrypointAndArgs(cfg.Entrypoint, cfg.Cmd)
	m := &Meta{
		Name: name, Created: b.now().UTC(), Platform: req.Platform,
		Config: cfg, HostConfig: hc, NetworkingConfig: netCfg,
		Path: path, Args: args, Mounts: mounts,
	}
	raw, err := m.encode()
	if err != nil {
		b.index.Release(id)
		return container.CreateResponse{}, err
	}
	spec := compute.Spec{
		ID:    id,
		Image: img.ID,
		Process: compute.Process{
			Args: append([]string{path}, args...), Env: processEnv(cfg, linkEnv(name, links)), User: cfg.User, GroupAdd: hc.GroupAdd,
			WorkingDir: cfg.WorkingDir, Tty: cfg.Tty, OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
			ConsoleSize: consoleSize(cfg.Tty, hc.ConsoleSize),
		},
		Hostname: cfg.Hostname, Domainname: cfg.Domainname, Hosts: hosts,
		DNS: hc.DNS, DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions,
		MemoryMB: b.cfg.DefaultMemoryMB, CPUs: b.cfg.DefaultCPUs,
		Mounts: vmounts, Tmpfs: tmpfs,
		Meta: raw,
		Name: vmName(b.cfg.NameConvention, name, id),
	}
	if hc.Memory > 0 {
		spec.MemoryMB = (hc.Memory + 1<<20 - 1) >> 20
	}
	if hc.NanoCPUs > 0 {
		spec.CPUs = int((hc.NanoCPUs + 1e9 - 1) / 1e9)
	}
	if err := b.pl.Create(ctx, spec); err != nil {
		b.index.Release(id)
		return container.CreateResponse{}, err
	}
	if err := b.join(ctx, id, eps); err != nil {
		if rerr := b.remove(context.WithoutCancel(ctx), id); rerr != nil {
			b.log.Warn("create: undo after a failed network join", zap.String("id", id), zap.Error(rerr))
		}
		return container.CreateResponse{}, err
	}
	b.log.Info("created container", zap.String("id", id), zap.String("name", name), zap.String("image", img.ID))
	b.event(id, m, events.ActionCreate, nil)
	if warnings == nil {
		warnings = []string{}
	}
	return container.CreateResponse{ID: id, Warnings: warnings}, nil
}

// vmName applies the VCH's container name convention: {name} is the
// container's name, {id} its short ID.
func vmName(convention, name, id string) string {
	if convention == "" {
		return ""
	}
	short := id
	if len(short) > 12 {
		short = short[:12]
	}
	return strings.NewReplacer("{name}", strings.TrimPrefix(name, "/"), "{id}", short).Replace(convention)
}
