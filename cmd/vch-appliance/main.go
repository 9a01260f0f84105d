package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/tether/guestinfo"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vch-appliance: runs as PID 1 of a VCH's endpoint VM (the appliance ISO's /init)")
		os.Exit(2)
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.CallerKey = ""
	enc.EncodeTime = zapcore.RFC3339TimeEncoder
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), level)).Named("vch-appliance")

	// Signals are caught from the start: PID 1 ignores what it has no
	// handler for.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR)

	ctx, cancel := context.WithCancel(context.Background())
	env, unmountData, err := boot(ctx, log, level)
	if err != nil {
		log.Error("boot failed: powering off", zap.Error(err))
		unix.Sync()
		if unmountData != nil {
			_ = unmountData()
		}
		guestos.PowerOff(log)
	}

	shutdown := make(chan string, 1)
	button := make(chan struct{}, 1)
	watchPowerButton(button, 2*time.Second, log)
	go func() {
		select {
		case sig := <-term:
			shutdown <- "signal " + sig.String()
		case <-button:
			shutdown <- "ACPI power button"
		}
	}()
	s := &supervisor{log: log, argv: []string{vchdPath, "--vice-env", "--config", settingsPath}, env: env}
	s.run(shutdown)
	cancel()
	unix.Sync()
	if unmountData != nil {
		if err := unmountData(); err != nil {
			log.Warn("data disk", zap.Error(err))
		}
	}
	log.Info("powering off")
	guestos.PowerOff(log)
}

// boot runs the steps before vchd, in order, and returns vchd's
// environment and the data disk's unmount (nil: no data disk mounted).
func boot(ctx context.Context, log *zap.Logger, level zap.AtomicLevel) (env []string, unmountData func() error, err error) {
	start := time.Now()
	if err := mountAll(); err != nil {
		return nil, nil, fmt.Errorf("mounts: %w", err)
	}
	if err := loadModules(log); err != nil {
		return nil, nil, fmt.Errorf("modules: %w", err)
	}
	// The kernel starts /init without a PATH; the data disk's mkfs.ext4
	// is in /bin.
	if err := os.Setenv("PATH", "/bin"); err != nil {
		return nil, nil, fmt.Errorf("PATH: %w", err)
	}
	unmountData = mountDataDisk(ctx, log)
	env, err = configure(ctx, log, level, start)
	return env, unmountData, err
}

// configure reads the VCH's config and sets the appliance up by it: the
// hostname, the network, the files vchd reads; it returns vchd's
// environment.
func configure(ctx context.Context, log *zap.Logger, level zap.AtomicLevel, start time.Time) ([]string, error) {
	src, err := guestinfo.ForVM(guestinfo.FwCfgPath)
	if err != nil {
		return nil, fmt.Errorf("guestinfo: %w", err)
	}
	c, kv, err := readConfig(src)
	if err != nil {
		return nil, fmt.Errorf("the VCH's config from guestinfo: %w", err)
	}
	if c.Debug {
		level.SetLevel(zap.DebugLevel)
	}
	log.Info("VCH config read", zap.String("vch", c.Name), zap.String("version", c.Version), zap.String("target", c.Target), zap.Int("keys", len(kv)))
	if err := unix.Sethostname([]byte(c.Name)); err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	// The DHCP client's transaction IDs and vchd's TLS need the kernel's
	// RNG: a blocking read makes the kernel seed it (jitter entropy) now
	// instead of leaving non-blocking readers failing on an idle VM.
	rngStart := time.Now()
	if _, err := unix.Getrandom(make([]byte, 16), 0); err != nil {
		return nil, fmt.Errorf("kernel RNG: %w", err)
	}
	log.Debug("kernel RNG ready", zap.Duration("waited", time.Since(rngStart)))
	l, err := setupNetwork(ctx, c, log)
	if err != nil {
		return nil, err
	}
	if err := setupLeg(c, legWait, log); err != nil {
		return nil, err
	}
	if err := writeFiles("/", c, l); err != nil {
		return nil, err
	}
	log.Info("appliance up: starting vchd", zap.Duration("took", time.Since(start)))
	env := []string{"PATH=/bin", "HOME=/", "VMX_GUESTINFO=true"}
	return append(env, vice.ToEnv(kv)...), nil
}
