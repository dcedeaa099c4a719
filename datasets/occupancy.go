package datasets

import (
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// OccupancyFS holds UCI Occupancy Detection's occupancy/datatraining.txt and
// occupancy/datatest.txt (Candanedo & Feldheim 2016, CC BY 4.0; see README.md).
//
//go:embed occupancy/datatraining.txt occupancy/datatest.txt
var OccupancyFS embed.FS

// The shipped Occupancy files inside OccupancyFS.
const (
	OccupancyTrainFile = "occupancy/datatraining.txt"
	OccupancyTestFile  = "occupancy/datatest.txt"
)

// OccupancyFields are the sensor fields of the Occupancy data, in file order, named as
// edgepipe pipelines name fields: temperature (°C), humidity (%RH), light (lux), co2
// (ppm), humidity_ratio (kg water / kg air; derived from temperature and humidity).
var OccupancyFields = []string{"temperature", "humidity", "light", "co2", "humidity_ratio"}

// occupancyHeader is the files' header: 7 names for rows of 8 fields (a quoted row id
// comes first in every row, without a header name).
var occupancyHeader = []string{"date", "Temperature", "Humidity", "Light", "CO2", "HumidityRatio", "Occupancy"}

// occupancyTimeLayout is the layout of the date column (local time of the office, no
// zone; read as UTC).
const occupancyTimeLayout = "2006-01-02 15:04:05"

// Occupancy is one file of the UCI Occupancy Detection data: one office room, one row a
// minute.
type Occupancy struct {
	// Times are the rows' timestamps (zoneless in the file, read as UTC).
	Times []time.Time
	// Values are n rows × len(OccupancyFields) readings in physical units.
	Values [][]float64
	// Occupied is the ground truth of each row (from time-stamped photographs).
	Occupied []bool
}

// ReadOccupancy reads an Occupancy file of fsys: OccupancyFS with OccupancyTrainFile or
// OccupancyTestFile for the shipped data, os.DirFS for another copy. It returns an error
// naming the file and line of a wrong header, a row without 8 fields, an unparsable time
// or number, or an occupancy other than 0 or 1.
func ReadOccupancy(fsys fs.FS, name string) (Occupancy, error) {
	var o Occupancy
	f, err := fsys.Open(name)
	if err != nil {
		return o, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return o, fmt.Errorf("%s: %w", name, err)
	}
	if strings.Join(header, ",") != strings.Join(occupancyHeader, ",") {
		return o, fmt.Errorf("%s:1: header %q, want %q", name, strings.Join(header, ","), strings.Join(occupancyHeader, ","))
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return o, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) != len(occupancyHeader)+1 {
			return o, fmt.Errorf("%s:%d: %d fields, want %d (row id, then the header's columns)", name, line, len(rec), len(occupancyHeader)+1)
		}
		t, err := time.Parse(occupancyTimeLayout, rec[1])
		if err != nil {
			return o, fmt.Errorf("%s:%d: date: %w", name, line, err)
		}
		vals := make([]float64, len(OccupancyFields))
		for j := range vals {
			if vals[j], err = strconv.ParseFloat(rec[2+j], 64); err != nil {
				return o, fmt.Errorf("%s:%d: %s: %w", name, line, occupancyHeader[1+j], err)
			}
		}
		occ := rec[len(rec)-1]
		if occ != "0" && occ != "1" {
			return o, fmt.Errorf("%s:%d: Occupancy %q, want 0 or 1", name, line, occ)
		}
		o.Times = append(o.Times, t.UTC())
		o.Values = append(o.Values, vals)
		o.Occupied = append(o.Occupied, occ == "1")
	}
	if len(o.Values) == 0 {
		return o, fmt.Errorf("%s: no rows", name)
	}
	return o, nil
}
