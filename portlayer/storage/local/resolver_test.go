package local

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.1.2.3", true},
		{"localhost:5000", true},
		{"localhost", true},
		{"[::1]:5000", true},
		{"registry-1.docker.io", false},
		{"10.0.0.1:5000", false},
		{"localhost.example.com", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := isLoopbackHost(tc.host); got != tc.want {
				t.Fatalf("isLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
