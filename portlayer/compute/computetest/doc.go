// Package computetest is the conformance suite every compute.Provider
// passes (qemu with real VMs, the in-memory fake, vsphere under its
// simulator), in the style of containerd's snapshot and content test
// suites.
//
// Adopt it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		computetest.Run(t, computetest.RootPerTest(func(t *testing.T, root string) compute.Provider {
//			p, err := qemu.New(qemu.Config{Root: root, ...})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return p
//		}), "sha256:...")
//	}
//
// The factory is called at the start of every subtest with that subtest's
// *testing.T and must return a provider over fresh, empty state. A second
// call with the same *testing.T is a restart: it must return a provider
// over the same state (RootPerTest arranges that for providers with a state
// directory). Before such a restart the suite calls Close() on the first
// provider if it has that method; the provider must leave running VMs
// running. Providers with nothing to keep across a restart or no disk
// state opt out with WithoutRestart and WithoutDisks.
//
// A provider may implement Waiters(id string) int (the number of Wait
// calls blocked on id); the suite then orders a Wait before the event it
// waits for without sleeping. Without it that ordering is best effort.
//
// The image must hold busybox (sh, cat, sleep, true, test) in PATH. The
// suite runs only the command lines listed as Cmd* variables, so a fake
// provider can recognise them; each variable's comment says what the
// process must do.
package computetest
