// Package onep runs Go code on one P from the start of the process unless
// the GOMAXPROCS variable is set. localrun imports it for that effect
// alone; why one P: see package procs.
//
// It is a package initialiser rather than a call in main because giving
// up a P costs more the more ran on it: by the time main starts, the
// package initialisers have left spans of many size classes in the second
// P's cache, and handing them back to the heap's still empty span sets
// cost about 1 ms of an idle 1Password run's 19.5 (docs/testing.md, "One
// P"). Go initialises a package as soon as its imports are, in import-path
// order, so this one, which needs only runtime and syscall, runs before
// most of the standard library's initialisers. It must keep to those two
// imports: importing os or testing already loses part of the gain.
//
// A test binary of a package that imports it starts on one P too; such a
// binary restores the default in its TestMain (runtime.SetDefaultGOMAXPROCS)
// when its tests should not run that way.
package onep

import (
	"runtime"
	"syscall"
)

func init() {
	apply(func(name string) string { v, _ := syscall.Getenv(name); return v })
}

// apply sets one P unless the GOMAXPROCS variable (read by getenv) is set,
// which the runtime has then already applied.
func apply(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
