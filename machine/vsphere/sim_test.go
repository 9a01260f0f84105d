package vsphere

import (
	"context"
	"crypto/tls"
	"net/url"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"go.uber.org/zap/zaptest"
)

const (
	simUser = "administrator@vsphere.local"
	simPass = "Adm1n!secret"
)

// sim is a vCenter (govmomi's simulator, VPX model: DC0, cluster DC0_C0
// with 3 hosts, standalone host DC0_H0, datastore LocalDS_0, port groups
// "VM Network", DC0_DVPG0 and DC0_DVPG1) served over TLS on 127.0.0.1 with a password.
type sim struct {
	model      *simulator.Model
	server     *simulator.Server
	service    *simulator.Service
	host       string
	thumbprint string
}

func newSim(t *testing.T) *sim {
	t.Helper()
	m := simulator.VPX()
	m.Portgroup = 2
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(simUser, simPass)}
	srv := m.Service.NewServer()
	t.Cleanup(func() { srv.Close(); m.Remove() })
	return &sim{model: m, server: srv, service: m.Service, host: srv.URL.Host, thumbprint: soap.ThumbprintSHA1(srv.Certificate())}
}

func (sm *sim) connect(t *testing.T) *Session {
	t.Helper()
	s, err := sm.dial(Target{Host: sm.host, User: simUser, Password: simPass}, sm.thumbprint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.log = zaptest.NewLogger(t)
	return s
}

func (sm *sim) dial(tg Target, thumbprint string) (*Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Connect(ctx, ConnectOptions{Target: tg, Thumbprint: thumbprint})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
