package local

import "testing"

func TestValidateVMOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CreateOptions
		ok   bool
	}{
		{"defaults", CreateOptions{}, true},
		{"tb size", CreateOptions{TCGTBSizeMB: 16, GuestMemory: "memfd"}, true},
		{"anon", CreateOptions{GuestMemory: "anon"}, true},
		{"negative tb size", CreateOptions{TCGTBSizeMB: -1}, false},
		{"huge tb size", CreateOptions{TCGTBSizeMB: MaxTCGTBSizeMB + 1}, false},
		{"clones tb size", CreateOptions{TCGTBSizeClonesMB: 8}, true},
		{"negative clones tb size", CreateOptions{TCGTBSizeClonesMB: -1}, false},
		{"huge clones tb size", CreateOptions{TCGTBSizeClonesMB: MaxTCGTBSizeMB + 1}, false},
		{"unknown memory", CreateOptions{GuestMemory: "hugetlb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := validateVMOptions(tc.o); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
