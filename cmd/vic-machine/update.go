package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vchproject/vch/internal/version"
	"github.com/vchproject/vch/machine/firewall"
	"github.com/vchproject/vch/machine/local"
)

// update firewall --allow|--deny opens or closes the VCH's API port.
func update(args []string) error {
	if len(args) == 0 || args[0] != "firewall" {
		return fmt.Errorf("unknown update %q: use vic-machine update firewall --name NAME --allow|--deny", first(args))
	}
	fs := newFlags("update firewall")
	name := fs.String("name", "virtual-container-host", "VCH name")
	stateDir := fs.String("state-dir", "", "base directory of VCHs")
	allow := fs.Bool("allow", false, "open the VCH's API port in the host firewall")
	deny := fs.Bool("deny", false, "close the VCH's API port in the host firewall (loopback stays open)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *allow == *deny {
		return fmt.Errorf("give exactly one of --allow and --deny: vic-machine update firewall --name %s --allow", *name)
	}
	policy := firewall.Allow
	if *deny {
		policy = firewall.Deny
	}
	port, err := local.UpdateFirewall(*stateDir, *name, policy)
	if err != nil {
		return err
	}
	if *allow {
		fmt.Printf("Completed successfully: API port %d of VCH %s is open in the host firewall\n", port, *name)
	} else {
		fmt.Printf("Completed successfully: API port %d of VCH %s is closed in the host firewall (but to loopback)\n", port, *name)
	}
	return nil
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// upgrade moves a VCH to this installation's binaries, or back.
func upgrade(ctx context.Context, args []string) error {
	fs := newFlags("upgrade")
	o := local.UpgradeOptions{Version: version.Version}
	fs.StringVar(&o.Name, "name", "virtual-container-host", "VCH name")
	fs.StringVar(&o.StateDir, "state-dir", "", "base directory of VCHs")
	fs.StringVar(&o.VCHD, "vchd", filepath.Join(binDir(), "vchd"), "vchd binary to upgrade to")
	fs.StringVar(&o.Tether, "tether", filepath.Join(binDir(), "tether"), "tether binary to upgrade to")
	fs.BoolVar(&o.Rollback, "rollback", false, "go back to the binaries and settings the VCH had before its last upgrade")
	fs.BoolVar(&o.Force, "force", false, "upgrade even if the VCH already runs this version")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "how long to wait for the VCH to answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	res, err := local.Upgrade(ctx, o)
	if err != nil {
		return err
	}
	if o.Rollback {
		fmt.Printf("Completed successfully: VCH %s rolled back to version %s (containers kept running)\n", o.Name, res)
	} else {
		fmt.Printf("Completed successfully: VCH %s upgraded to version %s (containers kept running)\n", o.Name, res)
	}
	return nil
}
