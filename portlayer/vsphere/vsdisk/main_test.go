package vsdisk_test

import (
	"os"
	"testing"

	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestMain runs the tests with a temporary directory of their own, removed
// afterwards: the simulator's govcsim-* directories go with it.
func TestMain(m *testing.M) { os.Exit(vsimtest.Main(m.Run)) }
