// Package configs holds the shipped pipeline files; they are embedded so that
// `edgepipe demo` runs from a bare binary.
package configs

import "embed"

// FS holds every *.yaml in this folder (demo.yaml, …).
//
//go:embed *.yaml
var FS embed.FS
