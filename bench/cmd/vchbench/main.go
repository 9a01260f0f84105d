package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/measure"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/sysinfo"
)

type options struct {
	work         string
	netns        string
	repo         string
	only         []string
	targets      []string
	runs         int
	memCounts    []int
	listCount    int
	memLimit     string
	memSettle    time.Duration
	loadDuration time.Duration
	out          string
	vicMachine   string
	vchArgs      []string
	vchName      string
	apiPort      int
	portBase     int
	bip          string
	cgroupParent string
	nginxRoot    string
	compose      string
	countMax     int
	countFloor   int64
	countSlow    time.Duration
	render       string
	verbose      bool
}

func parseFlags(args []string) (options, error) {
	var o options
	var only, targets, memCounts, vchArgs string
	flag := flag.NewFlagSet("vchbench", flag.ContinueOnError)
	flag.StringVar(&o.work, "workdir", "", "scratch directory for daemons' data (bench/run makes one)")
	flag.StringVar(&o.netns, "netns", "", "bound network namespace this process runs in (bench/run makes one)")
	flag.StringVar(&o.repo, "repo", ".", "root of the vch checkout")
	flag.StringVar(&only, "only", "", "comma-separated measurements to run: run,boot,memory,list,create,pull,port,exec,push,cp,compose,volume,stats,count (default all)")
	flag.StringVar(&targets, "targets", "dockerd,vch", "targets to measure")
	flag.IntVar(&o.runs, "runs", 10, "repetitions of each timing (medians and p90s are over these)")
	flag.StringVar(&memCounts, "mem-counts", "1,10,50", "numbers of idle containers for the memory figure")
	flag.IntVar(&o.listCount, "list-count", 1000, "containers created before timing docker ps -a")
	flag.StringVar(&o.memLimit, "mem-limit", "256m", "docker run -m of idle containers (caps each VM's memory)")
	flag.DurationVar(&o.memSettle, "mem-settle", measure.DefaultSettle, "idle time before the memory figure is read (KSM needs minutes)")
	flag.DurationVar(&o.loadDuration, "load-duration", 10*time.Second, "length of the HTTP load through -p")
	flag.StringVar(&o.out, "out", "", "JSON output (default bench/results/<date>.json)")
	flag.StringVar(&o.vicMachine, "vic-machine", "", "vic-machine binary (default <repo>/bin/vic-machine)")
	flag.StringVar(&vchArgs, "vch-args", "", "extra arguments for vic-machine create, space separated")
	flag.StringVar(&o.vchName, "vch-name", fmt.Sprintf("vchbench-%d", os.Getpid()), "name of the VCH to create")
	flag.IntVar(&o.apiPort, "vch-port", 12376, "VCH Docker API port on the namespace's 127.0.0.1")
	flag.IntVar(&o.portBase, "port-base", 18080, "first host port for -p (dockerd uses it, vch the next)")
	flag.StringVar(&o.bip, "bip", "10.213.0.1/20", "dockerd's bridge address (exists only inside the namespace)")
	flag.StringVar(&o.cgroupParent, "cgroup-parent", fmt.Sprintf("/vchbench-%d", os.Getpid()), "cgroup parent of dockerd's containers (absolute)")
	flag.StringVar(&o.nginxRoot, "nginx-root", "", "Debian's nginx package extracted here (bench/run provides it); empty: no nginx figure")
	flag.StringVar(&o.compose, "compose", "/var/cache/vch/compose/docker-compose-v2.40.3", "Compose v2 binary (scripts/build-compose.sh); empty: no compose figure")
	flag.IntVar(&o.countMax, "count-max", measure.DefaultCountMax, "count: start at most this many idle containers")
	flag.Int64Var(&o.countFloor, "count-floor", measure.DefaultCountFloorMiB, "count: stop early when host MemAvailable falls below this many MiB")
	flag.DurationVar(&o.countSlow, "count-slow", measure.DefaultCountSlow, "count: stop after a start slower than this (0: never)")
	flag.StringVar(&o.render, "render", "", "print the table of a results JSON file and exit (runs nothing)")
	flag.BoolVar(&o.verbose, "v", false, "debug logging")
	if err := flag.Parse(args); err != nil {
		return o, err
	}
	if o.render != "" {
		return o, nil
	}
	if o.work == "" {
		return o, errors.New("-workdir is required (run bench/run, not vchbench directly)")
	}
	if o.runs < 1 {
		return o, errors.New("-runs must be at least 1")
	}
	if o.countMax < 1 || o.countFloor < 0 {
		return o, errors.New("-count-max must be at least 1 and -count-floor not negative")
	}
	o.only = splitList(only)
	o.targets = splitList(targets)
	known := []string{}
	for _, m := range measure.All() {
		known = append(known, m.Name)
	}
	for _, n := range o.only {
		if !slices.Contains(known, n) {
			return o, fmt.Errorf("-only: unknown measurement %q (known: %s)", n, strings.Join(known, ","))
		}
	}
	for _, t := range o.targets {
		if t != string(report.VCH) && t != string(report.Dockerd) {
			return o, fmt.Errorf("-targets: unknown target %q", t)
		}
	}
	prev := 0
	for _, s := range splitList(memCounts) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= prev {
			return o, fmt.Errorf("-mem-counts: want increasing positive numbers, got %q", memCounts)
		}
		o.memCounts = append(o.memCounts, n)
		prev = n
	}
	if o.vicMachine == "" {
		o.vicMachine = filepath.Join(o.repo, "bin", "vic-machine")
	}
	if o.out == "" {
		o.out = filepath.Join(o.repo, "bench", "results", time.Now().UTC().Format("2006-01-02")+".json")
	}
	o.vchArgs = strings.Fields(vchArgs)
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vchbench:", err)
		os.Exit(2)
	}
	if o.render != "" {
		if err := render(o.render); err != nil {
			fmt.Fprintln(os.Stderr, "vchbench:", err)
			os.Exit(1)
		}
		return
	}
	zcfg := zap.NewDevelopmentConfig()
	zcfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	zcfg.EncoderConfig.StacktraceKey = ""
	if !o.verbose {
		zcfg.Level = zap.NewAtomicLevelAt(zap.InfoLevel)
	}
	log, err := zcfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vchbench:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, log, o)
	stop()
	_ = log.Sync()
	os.Exit(code)
}

// run does the whole benchmark and returns the exit code. Everything it
// starts is pushed on a stack that unwinds before it returns, whether it
// finished, failed or was interrupted.
func run(ctx context.Context, log *zap.Logger, o options) int {
	if err := harness.CheckNetns(ctx, o.netns); err != nil {
		log.Error("refusing to run", zap.Error(err))
		return 2
	}
	stack := harness.NewStack(log)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := stack.Unwind(cctx); err != nil {
			log.Warn("cleanup incomplete", zap.Error(err))
		}
	}()

	rep := report.New(time.Now().UTC(), report.Options{Runs: o.runs, Only: o.only})
	rep.Machine = sysinfo.Probe(ctx)
	loadStart := measure.LoadAvg()

	targets := startTargets(ctx, log, stack, o, rep)
	if ctx.Err() != nil {
		log.Warn("interrupted")
		return 130
	}
	images, err := prepareImages(ctx, log, stack, o)
	if err != nil {
		log.Error("images", zap.Error(err))
		return 1
	}
	for _, t := range targets {
		if t.Name == report.VCH {
			rep.Machine.VCH = t.Version
		}
	}
	env := &measure.Env{Log: log, Report: rep, Images: images, Runs: o.runs, MemoryCounts: o.memCounts,
		ListCount: o.listCount, MemLimit: o.memLimit, MemSettle: o.memSettle, LoadDuration: o.loadDuration, PortBase: o.portBase,
		NewRegistry: emptyRegistry(o.work), Compose: o.compose, CountMax: o.countMax, CountFloorMiB: o.countFloor, CountSlow: o.countSlow}
	live := loadImages(ctx, log, env, targets)
	probeAccel(ctx, log, env, live)

	var selected []measure.Measurement
	for _, m := range measure.All() {
		if len(o.only) == 0 || slices.Contains(o.only, m.Name) {
			selected = append(selected, m)
		}
	}
	for _, m := range selected {
		m.Define(env)
	}
	failed := unavailable(rep, o, targets, live)
	for _, m := range selected {
		if ctx.Err() != nil {
			break
		}
		if m.RunAll != nil {
			failed = runAll(ctx, log, env, m, live) || failed
			continue
		}
		for _, t := range live {
			if ctx.Err() != nil {
				break
			}
			failed = runOne(ctx, log, env, m, t) || failed
		}
	}
	rep.Finished = time.Now().UTC()
	rep.Note("load average at start %s, at end %s (other work on the machine skews timings)", loadStart, measure.LoadAvg())
	interrupted := ctx.Err() != nil
	if interrupted {
		rep.Note("run interrupted; figures are partial")
	}
	if err := rep.Markdown(os.Stdout); err != nil {
		log.Error("print", zap.Error(err))
	}
	printWorst(os.Stdout, rep)
	if interrupted {
		log.Warn("interrupted: results not written")
		return 130
	}
	if err := rep.WriteJSON(o.out); err != nil {
		log.Error("write results", zap.Error(err))
		return 1
	}
	if err := writeMarkdown(rep, strings.TrimSuffix(o.out, ".json")+".md"); err != nil {
		log.Error("write results", zap.Error(err))
		return 1
	}
	fmt.Printf("\nresults: %s (table: %s)\n", o.out, strings.TrimSuffix(o.out, ".json")+".md")
	if failed {
		return 1
	}
	return 0
}

// runOne runs m on t on a target cleared of containers; it reports failure.
func runOne(ctx context.Context, log *zap.Logger, env *measure.Env, m measure.Measurement, t *harness.Target) bool {
	log.Info("measure", zap.String("measurement", m.Name), zap.String("target", string(t.Name)))
	if err := measure.RemoveAll(ctx, t); err != nil {
		log.Warn("clearing containers", zap.Error(err))
	}
	start := time.Now()
	err := m.Run(ctx, env, t)
	log.Info("measured", zap.String("measurement", m.Name), zap.String("target", string(t.Name)),
		zap.Duration("took", time.Since(start)), zap.Error(err))
	if err != nil {
		env.Report.Note("%s on %s failed: %v", m.Name, t.Name, err)
		markUnset(env.Report, t.Name, fmt.Sprintf("failed: %v", shorten(err.Error(), 160)))
		return true
	}
	return false
}

// runAll runs an interleaving measurement on every target at once.
func runAll(ctx context.Context, log *zap.Logger, env *measure.Env, m measure.Measurement, targets []*harness.Target) bool {
	log.Info("measure", zap.String("measurement", m.Name), zap.String("target", "all"))
	for _, t := range targets {
		if err := measure.RemoveAll(ctx, t); err != nil {
			log.Warn("clearing containers", zap.Error(err))
		}
	}
	start := time.Now()
	err := m.RunAll(ctx, env, targets)
	log.Info("measured", zap.String("measurement", m.Name), zap.Duration("took", time.Since(start)), zap.Error(err))
	if err != nil {
		env.Report.Note("%s failed: %v", m.Name, err)
		return true
	}
	return false
}

// startTargets starts the selected daemons. A target that cannot start is
// left out: its rows say why.
func startTargets(ctx context.Context, log *zap.Logger, stack *harness.Stack, o options, rep *report.Report) []*harness.Target {
	var out []*harness.Target
	if slices.Contains(o.targets, string(report.Dockerd)) {
		t, err := harness.StartDockerd(ctx, log, stack, harness.DockerdConfig{
			Dir: filepath.Join(o.work, "dockerd"), Bip: o.bip, CgroupParent: o.cgroupParent, ConfigDir: filepath.Join(o.work, "docker-config")})
		if err != nil {
			log.Error("dockerd", zap.Error(err))
			rep.Note("dockerd did not start: %v", err)
		} else {
			out = append(out, t)
		}
	}
	if slices.Contains(o.targets, string(report.VCH)) && ctx.Err() == nil {
		t, err := harness.StartVCH(ctx, log, stack, harness.VCHConfig{
			VicMachine: o.vicMachine, Name: o.vchName,
			StateDir: filepath.Join(o.work, "vch"), APIPort: o.apiPort, ExtraArgs: o.vchArgs,
			ConfigDir: filepath.Join(o.work, "docker-config")})
		if err != nil {
			log.Error("vch", zap.Error(err))
			rep.Note("VCH did not start: %v", err)
		} else {
			out = append(out, t)
		}
	}
	return out
}

// unavailable marks the rows of targets that were asked for but are not
// live, and reports whether any was missing.
func unavailable(rep *report.Report, o options, started, live []*harness.Target) bool {
	missing := false
	for _, name := range o.targets {
		if slices.ContainsFunc(live, func(t *harness.Target) bool { return string(t.Name) == name }) {
			continue
		}
		missing = true
		reason := "target did not start (see notes)"
		if slices.ContainsFunc(started, func(t *harness.Target) bool { return string(t.Name) == name }) {
			reason = "images could not be loaded (see notes)"
		}
		markUnset(rep, report.Target(name), reason)
	}
	return missing
}

// markUnset gives every row still "not measured" on t the reason.
func markUnset(rep *report.Report, t report.Target, reason string) {
	for _, row := range rep.Rows {
		v := row.Dockerd
		if t == report.VCH {
			v = row.VCH
		}
		if !v.Set() && v.NA == "not measured" {
			_ = rep.NA(row.Key, t, reason)
		}
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// render prints the table and worst ratios of a results file.
func render(path string) error {
	rep, err := report.ReadJSON(path)
	if err != nil {
		return err
	}
	if err := rep.Markdown(os.Stdout); err != nil {
		return err
	}
	printWorst(os.Stdout, rep)
	return nil
}

// writeMarkdown writes the table and worst ratios beside the JSON.
func writeMarkdown(rep *report.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.Markdown(f); err != nil {
		f.Close()
		return err
	}
	printWorst(f, rep)
	return f.Close()
}

func printWorst(w io.Writer, rep *report.Report) {
	skip := []string{"list.setup"}
	for _, row := range rep.Rows {
		if strings.HasSuffix(row.Key, ".daemon") {
			skip = append(skip, row.Key) // growth near 0 on one side makes ratios meaningless
		}
	}
	var worst []*report.Row
	for _, row := range rep.WorstBySection(3, skip...) {
		if s, _ := report.Slowdown(row); s > 1 {
			worst = append(worst, row)
		}
	}
	if len(worst) == 0 {
		fmt.Fprintln(w, "\nvch is not worse than dockerd on any figure with a ratio.")
		return
	}
	fmt.Fprintln(w, "\nWorst ratios, one per measurement (how many times worse vch is):")
	for _, row := range worst {
		s, _ := report.Slowdown(row)
		fmt.Fprintf(w, "- %s: %s× (%s)\n", row.Label, report.Number(s), row.Section)
	}
}
