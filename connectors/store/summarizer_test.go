package store

import (
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// minuteSummarizer is a test-only pipeline.Summarizer: fixed 1-minute tumbling windows
// per device, a window closing when a reading of a later window arrives for that device.
// It only counts (Count, DeadLetters, Anomalies); the real statistics live in operators/.
type minuteSummarizer struct {
	site         string
	closeOnDrain bool
	open         map[string]*pipeline.Summary
}

func newMinuteSummarizer(site string, closeOnDrain bool) *minuteSummarizer {
	return &minuteSummarizer{site: site, closeOnDrain: closeOnDrain, open: map[string]*pipeline.Summary{}}
}

func (m *minuteSummarizer) Add(recs []*pipeline.Record) []pipeline.Summary {
	var out []pipeline.Summary
	for _, r := range recs {
		if r.Device == "" || r.Time.IsZero() {
			continue
		}
		start := r.Time.Truncate(time.Minute).UnixMilli()
		w := m.open[r.Device]
		if w != nil && start > w.StartMs {
			out = append(out, *w)
			w = nil
		}
		if w == nil {
			w = &pipeline.Summary{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion, Site: m.site,
				Device: r.Device, StartMs: start, EndMs: start + time.Minute.Milliseconds()}
			m.open[r.Device] = w
		}
		switch {
		case r.Dead():
			w.DeadLetters++
		default:
			w.Count++
			if r.Anomaly {
				w.Anomalies++
			}
			w.Model = r.Model
		}
	}
	return out
}

func (m *minuteSummarizer) Drain() []pipeline.Summary {
	if !m.closeOnDrain {
		return nil
	}
	var out []pipeline.Summary
	for d, w := range m.open {
		out = append(out, *w)
		delete(m.open, d)
	}
	return out
}
