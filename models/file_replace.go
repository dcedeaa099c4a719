package models

import (
	"fmt"
	"slices"
)

// CheckReplacement reports whether next may replace cur in a running pipeline without
// rebuilding it (a hot swap): the stages before the model pick its features by name and
// build rows of Window readings, so next must have the same kind, the same features in the
// same order, the same window and the same input width (Window × len(Features) columns).
// Weights, hidden layers, scalers, thresholds and a classifier's classes may differ. It
// returns nil when next fits, else an error naming the first difference.
func CheckReplacement(cur, next Model) error {
	c, n := cur.Meta(), next.Meta()
	switch {
	case n.Kind != c.Kind:
		return fmt.Errorf("model %q has kind %q, the running model %q kind %q", n.Name, n.Kind, c.Name, c.Kind)
	case !slices.Equal(n.Features, c.Features):
		return fmt.Errorf("model %q reads features %q, the running model %q reads %q", n.Name, n.Features, c.Name, c.Features)
	case n.Window != c.Window:
		return fmt.Errorf("model %q has a window of %d readings, the running model %q of %d", n.Name, n.Window, c.Name, c.Window)
	case next.InputWidth() != cur.InputWidth():
		return fmt.Errorf("model %q takes %d inputs, the running model %q takes %d", n.Name, next.InputWidth(), c.Name, cur.InputWidth())
	}
	return nil
}
