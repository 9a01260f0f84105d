package vchconfig

import (
	"crypto/x509"
	"fmt"
	"os"
)

// ValidateRegistry checks registry settings as vic-machine takes them
// (--insecure-registry, --whitelist-registry, --registry-mirror) and
// reads the --registry-ca files, before anything is made: it returns
// their PEM certificates, concatenated.
func ValidateRegistry(r Registry, caFiles []string) ([]byte, error) {
	for _, p := range r.Insecure {
		if err := ValidateRegistryPattern(p); err != nil {
			return nil, fmt.Errorf("--insecure-registry: %w", err)
		}
	}
	for _, p := range r.Whitelist {
		if err := ValidateRegistryPattern(p); err != nil {
			return nil, fmt.Errorf("--whitelist-registry: %w", err)
		}
	}
	for _, m := range r.Mirrors {
		if err := ValidateMirror(m); err != nil {
			return nil, fmt.Errorf("--registry-mirror: %w", err)
		}
	}
	return ReadCAs("--registry-ca", "a CA that signs your registries' certificates", caFiles)
}

// ReadCAs reads PEM CA files given with flag; each must hold at least one
// parsable certificate (what says whose CA the user should give).
func ReadCAs(flag, what string, files []string) ([]byte, error) {
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: give the PEM file of %s", flag, err, what)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate: give the PEM file of %s", flag, f, what)
		}
		all = append(append(all, b...), '\n')
	}
	return all, nil
}
