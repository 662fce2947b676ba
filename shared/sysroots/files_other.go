//go:build !linux

package sysroots

// Elsewhere crypto/x509 asks the operating system, or reads other files:
// crypto/tls's own verification is kept.
const filesHoldRoots = false

func bundleFiles() []string { return nil }
