package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"gonum.org/v1/gonum/mat"
)

// The model file format: a msgpack map, documented in README.md.
const (
	fileFormat        = "edgepipe-model"
	fileFormatVersion = 1
)

type fileModel struct {
	Format        string      `msgpack:"format"`
	FormatVersion int         `msgpack:"format_version"`
	Meta          fileMeta    `msgpack:"meta"`
	Layers        []fileLayer `msgpack:"layers"`
}

type fileMeta struct {
	Name          string                `msgpack:"name"`
	Kind          string                `msgpack:"kind"`
	Version       string                `msgpack:"version"`
	Features      []string              `msgpack:"features"`
	Window        int                   `msgpack:"window"`
	Scalers       sortedMap[fileScaler] `msgpack:"scalers"`
	Thresholds    sortedMap[float64]    `msgpack:"thresholds"`
	Classes       []string              `msgpack:"classes"`
	TrainedFromMs int64                 `msgpack:"trained_from_ms"`
	TrainedToMs   int64                 `msgpack:"trained_to_ms"`
	TrainRows     int                   `msgpack:"train_rows"`
}

type fileScaler struct {
	Mean []float64 `msgpack:"mean"`
	Std  []float64 `msgpack:"std"`
}

// sortedMap encodes with its keys in sorted order, so the encoding (and the content hash)
// is deterministic: msgpack/v5's SetSortMapKeys does not sort maps of arbitrary value type.
type sortedMap[V any] map[string]V

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m sortedMap[V]) EncodeMsgpack(e *msgpack.Encoder) error {
	if m == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := e.EncodeString(k); err != nil {
			return err
		}
		if err := e.Encode(m[k]); err != nil {
			return err
		}
	}
	return nil
}

type fileLayer struct {
	In  int       `msgpack:"in"`
	Out int       `msgpack:"out"`
	Act string    `msgpack:"act"`
	W   []float64 `msgpack:"w"` // in × out, row-major
	B   []float64 `msgpack:"b"` // out
}

// toFile converts d to its file form with Version empty.
func (d *Dense) toFile() fileModel {
	m := d.meta
	f := fileModel{Format: fileFormat, FormatVersion: fileFormatVersion, Meta: fileMeta{
		Name: m.Name, Kind: string(m.Kind), Features: m.Features, Window: m.Window,
		Thresholds: m.Thresholds, Classes: m.Classes, TrainRows: m.TrainRows,
		TrainedFromMs: msOf(m.TrainedFrom), TrainedToMs: msOf(m.TrainedTo),
	}}
	if m.Scalers != nil {
		f.Meta.Scalers = sortedMap[fileScaler]{}
		for k, s := range m.Scalers {
			f.Meta.Scalers[k] = fileScaler(s)
		}
	}
	for _, ly := range d.layers {
		r, c := ly.W.Dims()
		w := make([]float64, 0, r*c)
		for i := 0; i < r; i++ {
			w = append(w, ly.W.RawRowView(i)...)
		}
		f.Layers = append(f.Layers, fileLayer{In: r, Out: c, Act: string(ly.Act), W: w, B: ly.B})
	}
	return f
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// encodeFile is the canonical encoding: struct fields in declaration order, map keys sorted.
func encodeFile(f fileModel) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// contentHash is the Version of d: the first 16 hex characters of the SHA-256 of its
// canonical encoding with Version empty.
func (d *Dense) contentHash() string {
	b, err := encodeFile(d.toFile())
	if err != nil {
		panic("models: encoding a model cannot fail: " + err.Error())
	}
	return hashOf(b)
}

// Encode writes the model file (msgpack, format in README.md) to w, with Meta.Version set to
// the content hash. It returns w's write error.
func (d *Dense) Encode(w io.Writer) error {
	f := d.toFile()
	b, err := encodeFile(f)
	if err != nil {
		return fmt.Errorf("models: encode: %w", err)
	}
	f.Meta.Version = hashOf(b)
	if b, err = encodeFile(f); err != nil {
		return fmt.Errorf("models: encode: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// Decode reads a model file written by Encode. It rejects, with an error saying which, a
// file that is not msgpack or is truncated, has trailing bytes or a key not in the format,
// another format or a newer format version, an unknown activation or kind, inconsistent shapes (layer widths, weight
// and bias counts, Window·len(Features), scaler lengths, classes), a non-finite weight or a
// zero or non-finite scaler Std, or whose Version does not match its content hash.
func Decode(r io.Reader) (*Dense, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("models: decode: %w", err)
	}
	br := bytes.NewReader(data)
	var f fileModel
	dec := msgpack.NewDecoder(br)
	dec.DisallowUnknownFields(true) // a damaged key is an error, not a missing field
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("models: decode: model file truncated (%d bytes): %w", len(data), err)
		}
		return nil, fmt.Errorf("models: decode: corrupt model file: %w", err)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("models: decode: %d trailing bytes after the model", br.Len())
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("models: decode: format %q, want %q", f.Format, fileFormat)
	}
	if f.FormatVersion < 1 || f.FormatVersion > fileFormatVersion {
		return nil, fmt.Errorf("models: decode: format version %d not supported (this build reads 1..%d)", f.FormatVersion, fileFormatVersion)
	}
	stored := f.Meta.Version
	f.Meta.Version = ""
	canon, err := encodeFile(f)
	if err != nil {
		return nil, fmt.Errorf("models: decode: %w", err)
	}
	if got := hashOf(canon); stored != got {
		return nil, fmt.Errorf("models: decode: version hash mismatch: file says %q, content hashes to %q (file modified or corrupt)", stored, got)
	}
	d, err := fromFile(f)
	if err != nil {
		return nil, fmt.Errorf("models: decode: %w", err)
	}
	d.meta.Version = stored
	return d, nil
}

// fromFile checks the shapes and values of f and builds the network.
func fromFile(f fileModel) (*Dense, error) {
	if len(f.Layers) == 0 {
		return nil, errors.New("no layers")
	}
	d := &Dense{}
	for l, fl := range f.Layers {
		act := Activation(fl.Act)
		switch {
		case !act.valid():
			return nil, fmt.Errorf("layer %d: unknown activation %q", l, fl.Act)
		case fl.In <= 0 || fl.Out <= 0:
			return nil, fmt.Errorf("layer %d: shape %d×%d, want positive widths", l, fl.In, fl.Out)
		case len(fl.W) != fl.In*fl.Out:
			return nil, fmt.Errorf("layer %d: %d weights, want %d×%d = %d", l, len(fl.W), fl.In, fl.Out, fl.In*fl.Out)
		case len(fl.B) != fl.Out:
			return nil, fmt.Errorf("layer %d: %d biases, want %d", l, len(fl.B), fl.Out)
		case l > 0 && fl.In != f.Layers[l-1].Out:
			return nil, fmt.Errorf("layer %d: input width %d, previous layer outputs %d", l, fl.In, f.Layers[l-1].Out)
		}
		for i, v := range fl.W {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("layer %d: non-finite weight %v at row %d, column %d", l, v, i/fl.Out, i%fl.Out)
			}
		}
		for j, v := range fl.B {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("layer %d: non-finite bias %v at column %d", l, v, j)
			}
		}
		d.layers = append(d.layers, layer{W: mat.NewDense(fl.In, fl.Out, fl.W), B: fl.B, Act: act})
	}
	fm := f.Meta
	m := Meta{
		Name: fm.Name, Kind: Kind(fm.Kind), Features: fm.Features, Window: fm.Window,
		Thresholds: fm.Thresholds, Classes: fm.Classes, TrainRows: fm.TrainRows,
		TrainedFrom: timeOf(fm.TrainedFromMs), TrainedTo: timeOf(fm.TrainedToMs),
	}
	in, out := d.InputWidth(), d.OutputWidth()
	switch m.Kind {
	case "":
	case KindAutoencoder:
		if in != out {
			return nil, fmt.Errorf("autoencoder maps %d inputs to %d outputs", in, out)
		}
	case KindClassifier:
		if len(m.Classes) != out {
			return nil, fmt.Errorf("classifier has %d classes and %d outputs", len(m.Classes), out)
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", fm.Kind)
	}
	if len(m.Features) > 0 && m.Window*len(m.Features) != in {
		return nil, fmt.Errorf("window %d × %d features = %d, but the input width is %d", m.Window, len(m.Features), m.Window*len(m.Features), in)
	}
	for dev, t := range m.Thresholds {
		if math.IsNaN(t) {
			return nil, fmt.Errorf("threshold %q is NaN", dev)
		}
	}
	if fm.Scalers != nil {
		m.Scalers = map[string]Scaler{}
		for dev, s := range fm.Scalers {
			if len(s.Mean) != len(m.Features) || len(s.Std) != len(m.Features) {
				return nil, fmt.Errorf("scaler %q: %d means and %d stds for %d features", dev, len(s.Mean), len(s.Std), len(m.Features))
			}
			for j, sd := range s.Std {
				if sd == 0 || math.IsNaN(sd) || math.IsInf(sd, 0) || math.IsNaN(s.Mean[j]) || math.IsInf(s.Mean[j], 0) {
					return nil, fmt.Errorf("scaler %q field %d: mean %v std %v", dev, j, s.Mean[j], sd)
				}
			}
			m.Scalers[dev] = Scaler(s)
		}
	}
	d.meta = m
	return d, nil
}

// Save writes the model file to path atomically: it writes a temporary file in the same
// folder, syncs it and renames it over path, so a reader (or a power cut) sees either the
// old file or the whole new one.
func (d *Dense) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("models: save: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	err = d.Encode(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("models: save %s: %w", path, err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync() // make the rename durable where the platform allows it
		dir.Close()
	}
	return nil
}

// Load reads and checks a model file written by Save (see Decode for the checks). The
// error names path.
func Load(path string) (*Dense, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("models: load: %w", err)
	}
	defer f.Close()
	d, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
