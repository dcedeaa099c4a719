package nabscore

import (
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// ReadResults reads the detector outputs under dir of fsys in NAB's results layout,
// <detector>/<category>/<detector>_<name>.csv, and also takes <category>/<name>.csv or
// <category>/<detector>_<name>.csv directly under dir (detector ""). Files ending in
// _scores.csv (NAB's score tables) are skipped. Each file is matched to its key
// "<category>/<name>.csv" in labels: the file name itself, else the name without the
// detector's "<detector>_" prefix, else without its shortest "<prefix>_" that matches.
// It returns detector → files, sorted by key.
//
// Each CSV needs a header with the columns timestamp (NAB's "2006-01-02 15:04:05", read
// as UTC) and anomaly_score; value is read when present; other columns (label, raw_score,
// S(t)_…) are ignored. It returns an error for a CSV at another depth, a file without a
// label key, two files with the same key, or a malformed file (naming its line).
func ReadResults(fsys fs.FS, dir string, labels map[string][]datasets.Window) (map[string][]File, error) {
	out := map[string][]File{}
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, "_scores.csv") {
			return nil
		}
		rel := name
		if dir != "." {
			rel = strings.TrimPrefix(name, dir+"/")
		}
		parts := strings.Split(rel, "/")
		var detector string
		switch len(parts) {
		case 2:
		case 3:
			detector = parts[0]
		default:
			return fmt.Errorf("nabscore: %s: want <detector>/<category>/<file>.csv or <category>/<file>.csv", name)
		}
		category, base := parts[len(parts)-2], parts[len(parts)-1]
		key, ok := labelKey(category, base, detector, labels)
		if !ok {
			return fmt.Errorf("nabscore: %s: no label key %s/<name>.csv for it", name, category)
		}
		for _, f := range out[detector] {
			if f.Key == key {
				return fmt.Errorf("nabscore: %s: a second file for %s", name, key)
			}
		}
		r, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer r.Close()
		f, err := readResultsFile(r, name)
		if err != nil {
			return err
		}
		f.Key = key
		out[detector] = append(out[detector], f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, files := range out {
		sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	}
	return out, nil
}

// labelKey finds the label key of a results file.
func labelKey(category, base, detector string, labels map[string][]datasets.Window) (string, bool) {
	try := []string{base}
	if detector != "" {
		try = append(try, strings.TrimPrefix(base, detector+"_"))
	}
	for i, c := range base {
		if c == '_' {
			try = append(try, base[i+1:])
		}
	}
	for _, b := range try {
		if _, ok := labels[category+"/"+b]; ok {
			return category + "/" + b, true
		}
	}
	return "", false
}

// readResultsFile reads one NAB results CSV (see ReadResults); Key is left empty.
func readResultsFile(r io.Reader, name string) (File, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return File{}, fmt.Errorf("nabscore: %s: %w", name, err)
	}
	ts, sc, val := slices.Index(header, "timestamp"), slices.Index(header, "anomaly_score"), slices.Index(header, "value")
	if ts < 0 || sc < 0 {
		return File{}, fmt.Errorf("nabscore: %s:1: header %q lacks timestamp or anomaly_score", name, strings.Join(header, ","))
	}
	var f File
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return File{}, fmt.Errorf("nabscore: %s: %w", name, err)
		}
		t, err := time.Parse(datasets.NABTimeLayout, rec[ts])
		if err != nil {
			return File{}, fmt.Errorf("nabscore: %s:%d: timestamp: %w", name, line, err)
		}
		s, err := strconv.ParseFloat(rec[sc], 64)
		if err != nil {
			return File{}, fmt.Errorf("nabscore: %s:%d: anomaly_score: %w", name, line, err)
		}
		f.Times = append(f.Times, t.UTC())
		f.Scores = append(f.Scores, s)
		if val >= 0 {
			v, err := strconv.ParseFloat(rec[val], 64)
			if err != nil {
				return File{}, fmt.Errorf("nabscore: %s:%d: value: %w", name, line, err)
			}
			f.Values = append(f.Values, v)
		}
	}
	return f, nil
}

// WriteResults writes f in NAB's results format: the header timestamp,value,anomaly_score,
// label and one row per reading, label being 1 inside one of wins (inclusive) and 0
// outside, numbers in their shortest exact decimal form. f.Values must be set. It returns
// the first write error, or an error when f's slices differ in length.
func WriteResults(w io.Writer, f File, wins []datasets.Window) error {
	if len(f.Values) != len(f.Times) || len(f.Scores) != len(f.Times) {
		return fmt.Errorf("nabscore: %s: %d times, %d values, %d scores", f.Key, len(f.Times), len(f.Values), len(f.Scores))
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"timestamp", "value", "anomaly_score", "label"})
	for i, t := range f.Times {
		label := "0"
		for _, win := range wins {
			if !t.Before(win.Start) && !t.After(win.End) {
				label = "1"
				break
			}
		}
		cw.Write([]string{t.UTC().Format(datasets.NABTimeLayout),
			strconv.FormatFloat(f.Values[i], 'f', -1, 64),
			strconv.FormatFloat(f.Scores[i], 'g', -1, 64), label})
	}
	cw.Flush()
	return cw.Error()
}
