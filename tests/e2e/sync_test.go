package e2e

import "sync"

var (
	pullOnce   sync.Once
	pullResult result
)
