// Package system answers docker info and docker version for a VCH: counts
// come from the compute and storage port layers, host facts (CPUs, memory,
// kernel) from the machine vchd runs on, and every slice and map the docker
// CLI prints is non-nil.
package system
