package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxFields is the most fields a pipeline may have, vector fields expanded: enough for
// an image of 256 × 256 values or a 65,536-bin spectrum, and a bound on what one reading
// may allocate.
const MaxFields = 1 << 16

// Vector is a vector field: an entry "name[width]" of the top-level fields list, such as
// "px[784]" for a 28 × 28 image or "acc[3]" for an accelerometer frame. It stands for
// Width consecutive pipeline fields starting at index Start, named VectorFieldName(Name,
// i, Width) for i = 0 … Width−1 (px000 … px783), which a decoder fills from one payload
// array of Width numbers.
type Vector struct {
	Name         string
	Start, Width int
}

// VectorFieldName is the name of position i of a vector field of the given width: name
// followed by i in decimal, zero-padded to the digits of width−1 (px000 … px783 for
// px[784], acc0 … acc2 for acc[3]), so the names sort in position order.
func VectorFieldName(name string, i, width int) string {
	digits := len(strconv.Itoa(width - 1))
	return fmt.Sprintf("%s%0*d", name, digits, i)
}

// ExpandFields reads the top-level fields list: each entry is a field name, or
// "name[N]" (1 ≤ N ≤ MaxFields) for a vector field of N positions. It returns the
// pipeline's field names, in order, with every vector expanded into its position names
// (Record.Values[i] is names[i]), and the vectors. These entries are errors naming them:
// an empty one, a malformed or out-of-range width, '[' or ']' anywhere else, a name
// already given (a vector's own name counts: "px" and "px[3]" conflict, as do "px3" and
// "px[10]", whose positions are px0 … px9), more than MaxFields fields in all. The errors
// are joined (errors.Join), and names and vectors then hold the other entries, so that
// later checks can still run.
func ExpandFields(decl []string) (names []string, vectors []Vector, err error) {
	var errs []error
	seen := map[string]string{} // name → the entry that declared it
	conflict := func(name, entry string) error {
		prev, dup := seen[name]
		switch {
		case !dup:
			return nil
		case prev == entry:
			return fmt.Errorf("%q is listed twice", entry)
		}
		return fmt.Errorf("%q is declared twice: by %q and by %q", name, prev, entry)
	}
entries:
	for _, entry := range decl {
		name, width, isVector, err := parseFieldEntry(entry)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(names)+max(width, 1) > MaxFields {
			errs = append(errs, fmt.Errorf("%q: more than %d fields in all", entry, MaxFields))
			continue
		}
		all := []string{name}
		for i := range width {
			all = append(all, VectorFieldName(name, i, width))
		}
		for _, n := range all {
			if err := conflict(n, entry); err != nil {
				errs = append(errs, err)
				continue entries
			}
		}
		for _, n := range all {
			seen[n] = entry
		}
		if !isVector {
			names = append(names, name)
			continue
		}
		vectors = append(vectors, Vector{Name: name, Start: len(names), Width: width})
		names = append(names, all[1:]...)
	}
	return names, vectors, errors.Join(errs...)
}

// parseFieldEntry splits one entry of the fields list into its name and, for
// "name[N]", its width.
func parseFieldEntry(entry string) (name string, width int, isVector bool, err error) {
	if entry == "" {
		return "", 0, false, fmt.Errorf("an empty field name")
	}
	open := strings.IndexByte(entry, '[')
	if open < 0 {
		if strings.IndexByte(entry, ']') >= 0 {
			return "", 0, false, fmt.Errorf("%q: a field is name or name[N] (a vector of N values)", entry)
		}
		return entry, 0, false, nil
	}
	name, n := entry[:open], entry[open+1:]
	if name == "" || !strings.HasSuffix(n, "]") || strings.ContainsAny(n[:len(n)-1], "[]") {
		return "", 0, false, fmt.Errorf("%q: a field is name or name[N] (a vector of N values)", entry)
	}
	width, err = strconv.Atoi(n[:len(n)-1])
	if err != nil || width < 1 || width > MaxFields {
		return "", 0, false, fmt.Errorf("%q: the width of a vector field is an integer from 1 to %d", entry, MaxFields)
	}
	return name, width, true, nil
}
