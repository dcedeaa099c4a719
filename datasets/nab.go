package datasets

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NABTimeLayout is the timestamp layout of NAB's CSV files and labels (zoneless, read as
// UTC); labels add fractional seconds, which time.Parse accepts with this layout.
const NABTimeLayout = "2006-01-02 15:04:05"

// Stream is one NAB recording: one sensor.
type Stream struct {
	// Name is the file name without ".csv"; it serves as the device id.
	Name string
	// Key is the file's key in NAB's label file ("realKnownCause/<file>.csv").
	Key string
	// Times (UTC) and Values hold the rows in file order (n rows each).
	Times  []time.Time
	Values []float64
}

// Window is a labelled anomaly window [Start, End], inclusive, UTC.
type Window struct{ Start, End time.Time }

// NABDir is where the shipped realKnownCause CSVs live inside NAB (and on disk).
const NABDir = "nab/data/realKnownCause"

// ReadNAB reads every *.csv in dir of fsys, sorted by name. Use NAB and NABDir for the
// shipped data, or os.DirFS(folder) and "." for another folder.
// It returns an error naming the file and line of any malformed row.
func ReadNAB(fsys fs.FS, dir string) ([]Stream, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no .csv files", dir)
	}
	sort.Strings(names)
	var out []Stream
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		s, err := readStream(f, name)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ReadNABDir reads the CSVs of a folder on disk, or the shipped ones when dir is "".
func ReadNABDir(dir string) ([]Stream, error) {
	if dir == "" {
		return ReadNAB(NAB, NABDir)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	streams, err := ReadNAB(os.DirFS(dir), ".")
	if err != nil {
		// Errors name files relative to dir ("." for dir itself).
		return nil, fmt.Errorf("%s: %s", dir, strings.TrimPrefix(strings.TrimPrefix(err.Error(), "."), ": "))
	}
	return streams, nil
}

func readStream(r io.Reader, name string) (Stream, error) {
	base := path.Base(name)
	s := Stream{Name: strings.TrimSuffix(base, ".csv"), Key: path.Base(path.Dir(name)) + "/" + base}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	header, err := cr.Read()
	if err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	if header[0] != "timestamp" || header[1] != "value" {
		return s, fmt.Errorf("%s:1: header %q, want timestamp,value", name, strings.Join(header, ","))
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		t, err := time.Parse(NABTimeLayout, rec[0])
		if err != nil {
			return s, fmt.Errorf("%s:%d: timestamp: %w", name, line, err)
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return s, fmt.Errorf("%s:%d: value: %w", name, line, err)
		}
		s.Times = append(s.Times, t.UTC())
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// ReadNABLabels reads NAB's combined_windows.json: label key → anomaly windows. With
// path "" it reads the shipped file.
func ReadNABLabels(file string) (map[string][]Window, error) {
	var data []byte
	var err error
	if file == "" {
		data, err = fs.ReadFile(NAB, "nab/labels/combined_windows.json")
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	out := map[string][]Window{}
	for k, ws := range raw {
		for _, w := range ws {
			a, err1 := time.Parse(NABTimeLayout, w[0])
			b, err2 := time.Parse(NABTimeLayout, w[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("labels: %s: bad window %q", k, w)
			}
			out[k] = append(out[k], Window{Start: a.UTC(), End: b.UTC()})
		}
	}
	return out, nil
}

// Probationary returns NAB's probationary length for a stream of n rows: 15% of the rows,
// at most 750 (Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the
// Numenta Anomaly Benchmark", 2015).
func Probationary(n int) int {
	p := int(0.15 * float64(n))
	if p > 750 {
		p = 750
	}
	return p
}
