package datasets

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestReadOccupancyShipped(t *testing.T) {
	for _, c := range []struct {
		file           string
		rows, occupied int
		first          []float64
		firstT, lastT  string
		firstOccupied  bool
	}{
		// Counts from the files: 8,143 and 2,665 rows, 1,729 and 972 of them occupied.
		{OccupancyTrainFile, 8143, 1729, []float64{23.18, 27.272, 426, 721.25, 0.00479298817650529}, "2015-02-04 17:51:00", "2015-02-10 09:33:00", true},
		{OccupancyTestFile, 2665, 972, []float64{23.7, 26.272, 585.2, 749.2, 0.00476416302416414}, "2015-02-02 14:19:00", "2015-02-04 10:43:00", true},
	} {
		o, err := ReadOccupancy(OccupancyFS, c.file)
		if err != nil {
			t.Fatal(err)
		}
		occ := 0
		for _, b := range o.Occupied {
			if b {
				occ++
			}
		}
		if len(o.Values) != c.rows || len(o.Times) != c.rows || occ != c.occupied {
			t.Errorf("%s: %d rows, %d times, %d occupied; want %d rows, %d occupied", c.file, len(o.Values), len(o.Times), occ, c.rows, c.occupied)
		}
		if !slices.Equal(o.Values[0], c.first) || o.Occupied[0] != c.firstOccupied {
			t.Errorf("%s: first row %v %v, want %v", c.file, o.Values[0], o.Occupied[0], c.first)
		}
		if got := o.Times[0].Format(time.DateTime); got != c.firstT {
			t.Errorf("%s: first time %s, want %s", c.file, got, c.firstT)
		}
		if got := o.Times[len(o.Times)-1].Format(time.DateTime); got != c.lastT {
			t.Errorf("%s: last time %s, want %s", c.file, got, c.lastT)
		}
	}
}

func TestReadOccupancyRejects(t *testing.T) {
	const header = `"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"` + "\n"
	for _, c := range []struct{ name, data, want string }{
		{"header", `"date","Temp"` + "\n", `f.txt:1: header "date,Temp"`},
		{"no row id", header + `"2015-02-04 17:51:00",23.18,27.272,426,721.25,0.0047,1` + "\n", "f.txt:2: 7 fields, want 8"},
		{"time", header + `"1","yesterday",23.18,27.272,426,721.25,0.0047,1` + "\n", "f.txt:2: date"},
		{"number", header + `"1","2015-02-04 17:51:00",23.18,wet,426,721.25,0.0047,1` + "\n", "f.txt:2: Humidity"},
		{"label", header + `"1","2015-02-04 17:51:00",23.18,27.272,426,721.25,0.0047,2` + "\n", `f.txt:2: Occupancy "2"`},
		{"empty", header, "f.txt: no rows"},
	} {
		_, err := ReadOccupancy(fstest.MapFS{"f.txt": {Data: []byte(c.data)}}, "f.txt")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
