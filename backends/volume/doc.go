// Package volume is the docker personality of the port layer's volumes:
// docker volume create/ls/inspect/rm/prune with VIC's driver options
// (VolumeStore, Capacity), labels and filters, and the volumes containers
// mount (named ones created on first use, anonymous ones for -v /path and
// an image's VOLUME). Which containers use a volume is read from the
// compute provider's specs, so there is no second copy of that fact.
package volume
