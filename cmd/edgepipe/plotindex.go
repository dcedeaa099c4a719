package main

import (
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgepipe/edgepipe/models"
)

// plotIndexPage lists a report's pictures with their figures.
var plotIndexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>edgepipe report: {{.DB}}</title>
<style>body{font-family:sans-serif;margin:1em 2em}img{max-width:100%;border:1px solid #ddd}td,th{padding:0 .8em;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head>
<body>
<h1>edgepipe report</h1>
<p>Database {{.DB}}{{if .Selection}} ({{.Selection}}){{end}}, made {{.Made}}.<br>
Thresholds: {{.Model}}. Labelled windows: {{.Labels}}.</p>
<table>
<tr><th>device</th><th>readings</th><th>scored</th><th>detections</th><th>labelled windows</th><th>threshold</th><th>scored by model</th></tr>
{{range .Rows}}<tr><td><a href="#{{.File}}">{{.Device}}</a></td><td>{{.Readings}}</td><td>{{.Scored}}</td><td>{{.Anomalies}}</td><td>{{.Windows}}</td><td>{{.Threshold}}</td><td>{{.Models}}</td></tr>
{{end}}</table>
{{range .Rows}}<h2 id="{{.File}}">{{.Device}}</h2>
<img src="{{.File}}" alt="{{.Device}}: values and anomaly scores over time">
{{end}}</body>
</html>
`))

// writePlotIndex writes r.index: a table of the devices' figures, then every picture
// (by file name, relative to the index).
func writePlotIndex(r *plotReport, o reportOptions, meta *models.Meta) error {
	type row struct {
		Device, File, Threshold, Models      string
		Readings, Scored, Anomalies, Windows int
	}
	page := struct {
		DB, Selection, Made, Model, Labels string
		Rows                               []row
	}{DB: o.db, Made: time.Now().UTC().Format(time.RFC3339), Model: "none (no --model)", Labels: "none (no --labels)"}
	var sel []string
	for _, s := range [][2]string{{"device", o.device}, {"since", o.since}, {"until", o.until}} {
		if s[1] != "" {
			sel = append(sel, s[0]+" "+s[1])
		}
	}
	page.Selection = strings.Join(sel, ", ")
	if meta != nil {
		page.Model = fmt.Sprintf("model %s version %s (%s)", meta.Name, meta.Version, o.model)
	}
	switch o.labels {
	case "":
	case "nab":
		page.Labels = "the shipped NAB v1.1 labels"
	default:
		page.Labels = o.labels
	}
	for _, p := range r.plots {
		th := "—"
		if !math.IsNaN(p.threshold) {
			th = fmt.Sprintf("%.4g", p.threshold)
		}
		page.Rows = append(page.Rows, row{Device: p.device, File: filepath.Base(p.file), Threshold: th, Models: strings.Join(p.models, ", "),
			Readings: p.readings, Scored: p.scored, Anomalies: p.anomalies, Windows: p.windows})
	}
	f, err := os.Create(r.index)
	if err != nil {
		return err
	}
	if err := plotIndexPage.Execute(f, page); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", r.index, err)
	}
	return f.Close()
}
