//go:build race

package main

// The race detector slows everything down several times; timing checks are loosened under it.
const raceEnabled = true
