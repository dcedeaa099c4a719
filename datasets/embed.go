// Package datasets embeds the real recordings shipped with edgepipe (see README.md for
// their source and licence) so that `edgepipe demo` runs from a bare binary.
package datasets

import "embed"

// NAB holds nab/data/realKnownCause/*.csv (header `timestamp,value`, UTC timestamps
// `YYYY-MM-DD HH:MM:SS`), nab/labels/combined_windows.json, and for scoring
// (models/nabscore) nab/config/{profiles,thresholds}.json and nab/results/ (NAB's published
// scores and the Numenta HTM detector's per-row outputs on realKnownCause).
//
//go:embed nab/data/realKnownCause/*.csv nab/labels/combined_windows.json nab/LICENSE.txt
//go:embed nab/config/profiles.json nab/config/thresholds.json nab/results
var NAB embed.FS
