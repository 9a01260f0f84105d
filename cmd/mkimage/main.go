// Command mkimage builds the test images (busybox from busybox-static, a
// large several-layer image) and pushes them to a registry, or runs a
// registry on 127.0.0.1 — for manual testing and scripts.
//
//	mkimage registry DIR                 # run a registry, print its address, until killed
//	mkimage busybox  ADDR REPO[:TAG]     # build and push busybox
//	mkimage big      ADDR REPO[:TAG] N SIZE_MB
//
// or, with flags:
//
//	mkimage push-busybox --registry 127.0.0.1:5000 --repo busybox --tag latest
//	mkimage push-big     --registry 127.0.0.1:5000 --repo big --layers 4 --size-mb 25
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vchproject/vch/tests/fixture"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func splitRef(s string) (string, string) {
	if i := strings.LastIndex(s, ":"); i > 0 && !strings.Contains(s[i:], "/") {
		return s[:i], s[i+1:]
	}
	return s, "latest"
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: mkimage registry DIR | busybox ADDR REPO[:TAG] | big ADDR REPO[:TAG] LAYERS SIZE_MB | push-busybox --registry ADDR [--repo R] [--tag T] | push-big --registry ADDR [--repo R] [--tag T] [--layers N] [--size-mb MB]")
	}
	ctx := context.Background()
	switch args[0] {
	case "push-busybox", "push-big":
		return pushFlags(ctx, args[0], args[1:])
	case "registry":
		r, err := fixture.RunRegistry(args[1])
		if err != nil {
			return err
		}
		fmt.Println(r.Addr)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		r.Close()
		return nil
	case "busybox":
		if len(args) != 3 {
			return fmt.Errorf("usage: mkimage busybox ADDR REPO[:TAG]")
		}
		repo, tag := splitRef(args[2])
		img, err := fixture.PushBusybox(ctx, args[1], repo, tag)
		if err != nil {
			return err
		}
		fmt.Println(img.ID())
		return nil
	case "big":
		if len(args) != 5 {
			return fmt.Errorf("usage: mkimage big ADDR REPO[:TAG] LAYERS SIZE_MB")
		}
		n, err1 := strconv.Atoi(args[3])
		mb, err2 := strconv.Atoi(args[4])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("LAYERS and SIZE_MB must be numbers")
		}
		img, err := fixture.Big(n, mb<<20)
		if err != nil {
			return err
		}
		repo, tag := splitRef(args[2])
		if err := fixture.Push(ctx, args[1], repo, tag, img); err != nil {
			return err
		}
		fmt.Println(img.ID())
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// pushFlags is the flag form of the busybox and big commands.
func pushFlags(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	addr := fs.String("registry", "", "registry address, host:port (plain HTTP)")
	repo := fs.String("repo", strings.TrimPrefix(cmd, "push-"), "repository")
	tag := fs.String("tag", "latest", "tag")
	layers := fs.Int("layers", 4, "push-big: number of data layers")
	sizeMB := fs.Int("size-mb", 25, "push-big: size of each data layer in MB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" {
		return fmt.Errorf("%s: --registry is required", cmd)
	}
	var img *fixture.Image
	var err error
	if cmd == "push-busybox" {
		img, err = fixture.Busybox()
	} else {
		img, err = fixture.Big(*layers, *sizeMB<<20)
	}
	if err != nil {
		return err
	}
	if err := fixture.Push(ctx, *addr, *repo, *tag, img); err != nil {
		return err
	}
	fmt.Println(img.ID())
	return nil
}
