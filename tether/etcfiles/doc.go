// Package etcfiles renders the files the tether writes into a container's
// /etc: hostname, hosts and resolv.conf, from the tether config. Pure
// functions of the config; the caller writes the results.
package etcfiles
