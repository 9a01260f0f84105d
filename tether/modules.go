package tether

import (
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/guestos"
)

// moduleOrder reads the initramfs's module load order.
func moduleOrder() ([]string, error) { return guestos.ModuleOrder(guestos.ModulesOrder) }

// loadModules loads module files (names under /lib/modules) in order.
func loadModules(names []string, log *zap.Logger) error {
	return guestos.LoadModules(guestos.ModulesDir, names, log)
}
