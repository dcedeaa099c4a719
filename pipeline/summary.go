package pipeline

// SummarySchema and SummaryVersion identify the summary wire format (README: "Summary
// wire format"). A consumer must check both; a change that breaks consumers bumps the
// version.
const (
	SummarySchema  = "edgepipe.summary"
	SummaryVersion = 1
)

// Summary is the compact windowed record sent to the cloud: one per device and
// event-time tumbling window. It is encoded as a msgpack map (or JSON) with the tag
// names below. Optional statistics are nil (msgpack nil, JSON null) when undefined, so a
// non-finite number is never encoded.
type Summary struct {
	Schema  string `msgpack:"schema" json:"schema"`
	Version int    `msgpack:"version" json:"version"`
	Site    string `msgpack:"site" json:"site"`
	Device  string `msgpack:"device" json:"device"`
	// StartMs and EndMs bound the window [start, end) in ms since the Unix epoch, UTC.
	StartMs int64 `msgpack:"start_ms" json:"start_ms"`
	EndMs   int64 `msgpack:"end_ms" json:"end_ms"`
	// Count is the number of readings stored in the window.
	Count int `msgpack:"count" json:"count"`
	// Fields holds per-field statistics keyed by field name, over the readings' physical
	// values (before normalisation).
	Fields map[string]FieldStats `msgpack:"fields" json:"fields"`
	// Scored is how many readings the model scored; Anomalies how many exceeded the
	// threshold; MaxScore and MeanScore are over the scored readings (nil if none).
	Scored    int      `msgpack:"scored" json:"scored"`
	Anomalies int      `msgpack:"anomalies" json:"anomalies"`
	MaxScore  *float64 `msgpack:"max_score" json:"max_score"`
	MeanScore *float64 `msgpack:"mean_score" json:"mean_score"`
	// Labels counts predicted classes (classifiers only; nil otherwise).
	Labels map[string]int `msgpack:"labels,omitempty" json:"labels,omitempty"`
	// Model is the version (content hash) of the model that scored the window's last
	// reading.
	Model string `msgpack:"model" json:"model"`
	// DeadLetters counts the device's readings dead-lettered in the window (those whose
	// device and time could be decoded).
	DeadLetters int `msgpack:"dead_letters" json:"dead_letters"`
}

// FieldStats are the statistics of one field over a window. Mean, Min, Max and Std (the
// population standard deviation, ddof = 0, computed with Welford's algorithm) are over
// the non-missing values and nil when there are none; Missing counts NaN values.
type FieldStats struct {
	Mean    *float64 `msgpack:"mean" json:"mean"`
	Min     *float64 `msgpack:"min" json:"min"`
	Max     *float64 `msgpack:"max" json:"max"`
	Std     *float64 `msgpack:"std" json:"std"`
	Missing int      `msgpack:"missing" json:"missing"`
}
