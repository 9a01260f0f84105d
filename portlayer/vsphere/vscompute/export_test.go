package vscompute

import (
	"context"
	"time"
)

// BootMaintenance powers id's VM on for a maintenance boot as docker cp
// of a container that is not running does, and returns without ending it
// (the tests' vchd then "dies": the provider is dropped).
func BootMaintenance(ctx context.Context, p *Provider, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	_, err = p.bootMaintenance(ctx, c)
	return err
}

// RecordExit records an ended run of id with code, as the tether's exit
// report would (the tests' VMs run no tether).
func RecordExit(ctx context.Context, p *Provider, id string, code int) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	c.rec = record{StartedAt: now.Add(-time.Second), FinishedAt: now, Exited: true, ExitCode: code}
	return p.writeRecord(ctx, c)
}

// SerialStats is how many connections p's serial concentrator accepted
// and how many probe lines it wrote on them.
func SerialStats(p *Provider) (accepted, probes int64) {
	return p.hub.accepted.Load(), p.hub.probes.Load()
}
