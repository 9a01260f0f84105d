// Command vchd is the Virtual Container Host daemon: the Docker Engine API
// server, the docker personality and the port layer in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/vchproject/vch/machine/vchconfig"
)

func main() {
	configPath := flag.String("config", "", "path of the VCH's config.json (written by vic-machine create)")
	debug := flag.Bool("debug", false, "log at debug level")
	viceEnv := flag.Bool("vice-env", false, "vSphere endpoint: --config is the appliance's settings and the VCH's config is the guestinfo.vice keys in VMX_GUESTINFO_* variables")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "vchd: --config is required")
		os.Exit(2)
	}
	zcfg := zap.NewProductionConfig()
	if *debug {
		zcfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := zcfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vchd:", err)
		os.Exit(1)
	}
	defer func() { _ = log.Sync() }()

	if *viceEnv {
		if *configPath, err = viceConfig(*configPath, os.Environ()); err != nil {
			log.Error("vchd failed", zap.Error(err))
			fmt.Fprintln(os.Stderr, "vchd:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *configPath, log, runOptions{}); err != nil {
		log.Error("vchd failed", zap.Error(err))
		fmt.Fprintln(os.Stderr, "vchd:", err)
		var already *alreadyRunningError
		if errors.As(err, &already) {
			os.Exit(vchconfig.ExitAlreadyRunning)
		}
		os.Exit(1)
	}
}
