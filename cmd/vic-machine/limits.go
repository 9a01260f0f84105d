package main

import (
	"flag"

	"github.com/vchproject/vch/machine/limits"
	"github.com/vchproject/vch/machine/vchconfig"
)

// limitOptions are the VCH-wide limit flags shared by create and
// configure (VIC's names and units).
type limitOptions struct {
	cpu, cpuRes, cpuShares, mem, memRes, memShares *string
}

var limitNames = []string{"cpu", "cpu-reservation", "cpu-shares", "memory", "memory-reservation", "memory-shares"}

func limitFlags(fs *flag.FlagSet) *limitOptions {
	return &limitOptions{
		cpu:       fs.String("cpu", "", "CPU limit of the whole VCH: MHz as in VIC (2000, 2000MHz, 2.5GHz) or cores (1core, 1.5cores); 0: none"),
		cpuRes:    fs.String("cpu-reservation", "", "CPU reserved for the VCH (MHz or cores); checked against the host and --cpu"),
		cpuShares: fs.String("cpu-shares", "", "CPU shares of the VCH against other VCHs: low, normal, high (1:2:4) or a number"),
		mem:       fs.String("memory", "", "memory limit of the whole VCH: MB as in VIC (2048) or a size (2G); 0: none"),
		memRes:    fs.String("memory-reservation", "", "memory kept for the VCH under host memory pressure (MB or size)"),
		memShares: fs.String("memory-shares", "", "memory shares: low, normal, high or a number (recorded and shown; Linux has no memory weight)"),
	}
}

func (lo *limitOptions) owns(name string) bool {
	for _, n := range limitNames {
		if n == name {
			return true
		}
	}
	return false
}

// apply sets the limits whose flags were given into l.
func (lo *limitOptions) apply(fs *flag.FlagSet, l *vchconfig.Limits) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil {
			return
		}
		switch f.Name {
		case "cpu":
			l.CPU, err = limits.ParseCPU(f.Name, *lo.cpu)
		case "cpu-reservation":
			l.CPUReservation, err = limits.ParseCPU(f.Name, *lo.cpuRes)
		case "cpu-shares":
			l.CPUShares, err = limits.ParseShares(f.Name, *lo.cpuShares)
		case "memory":
			l.MemoryMB, err = limits.ParseMemoryMB(f.Name, *lo.mem)
		case "memory-reservation":
			l.MemoryReservation, err = limits.ParseMemoryMB(f.Name, *lo.memRes)
		case "memory-shares":
			l.MemoryShares, err = limits.ParseShares(f.Name, *lo.memShares)
		}
	})
	return err
}
