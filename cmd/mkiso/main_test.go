package main

import (
	"testing"

	"github.com/vchproject/vch/portlayer/qemu/kernel"
)

// The appliance's modules resolve against the fetched kernel with what the
// bridge leg's masquerade needs, each after the modules it depends on.
func TestApplianceModules(t *testing.T) {
	dir := kernel.DefaultDir()
	k, err := kernel.Find(dir)
	if err != nil {
		t.Fatalf("%v (fetch it: scripts/fetch-kernel.sh %s)", err, dir)
	}
	mods, err := k.Modules(applianceModules)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		pos[m.Name] = i
	}
	for _, n := range []string{"vmxnet3", "nf_tables", "nf_conntrack", "nf_nat", "nft_chain_nat", "nft_masq"} {
		if _, ok := pos[n]; !ok {
			t.Errorf("module %s missing from %v", n, mods)
		}
	}
	for _, pair := range [][2]string{{"nf_tables", "nft_masq"}, {"nf_conntrack", "nf_nat"}, {"nf_nat", "nft_masq"},
		{"nf_nat", "nft_chain_nat"}, {"nf_tables", "nft_chain_nat"}} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("%s must load before %s: %v", pair[0], pair[1], mods)
		}
	}
}
