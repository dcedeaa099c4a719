// Package datasets embeds the real recordings shipped with edgepipe (see README.md for
// their source and licence) so that `edgepipe demo` runs from a bare binary.
package datasets

import "embed"

// NAB holds nab/data/realKnownCause/*.csv (header `timestamp,value`, UTC timestamps
// `YYYY-MM-DD HH:MM:SS`) and nab/labels/combined_windows.json.
//
//go:embed nab/data/realKnownCause/*.csv nab/labels/combined_windows.json nab/LICENSE.txt
var NAB embed.FS
