package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/models"
)

// importMeta holds the flags of `model import` that become the model's metadata.
type importMeta struct {
	name, kind          string
	features, classes   []string
	window              int
	mean, std           []float64
	threshold           float64
	thresholdSet        bool
	onnxPath, modelPath string
}

// modelImportCmd is `edgepipe model import`: an ONNX feed-forward network to a model file.
func modelImportCmd() *cobra.Command {
	var im importMeta
	cmd := &cobra.Command{
		Use:   "import --onnx FILE --out FILE --kind classifier|autoencoder --features a,b,c",
		Short: "Convert an ONNX dense network (Gemm/MatMul, Add, Relu/Sigmoid/Tanh/Softmax) into a model file",
		Long: `import reads an ONNX model (opset 7 to 13) that is a chain of Gemm or MatMul (+ Add) layers
with Relu, Sigmoid, Tanh or Softmax activations, and writes it as an edgepipe model file
(msgpack; see models/README.md) with the metadata given by the flags. Any other graph is
rejected with an error naming the node.

The pipeline feeds the model z-scored readings: with --mean and --std (one value per
feature) the model file gets that default scaler; without them the scaler is the identity
(mean 0, std 1), so the network sees the raw field values. A classifier needs --classes,
one per output; an autoencoder's --threshold is the anomaly threshold on its mean squared
reconstruction error (without it no reading is an anomaly).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			im.thresholdSet = cmd.Flags().Changed("threshold")
			m, err := importONNX(im)
			if err != nil {
				return err
			}
			meta := m.Meta()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: model %s version %s, %s, %d → %d, features %s × window %d\n",
				im.modelPath, meta.Name, meta.Version, meta.Kind, m.InputWidth(), m.OutputWidth(),
				strings.Join(meta.Features, ","), meta.Window)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&im.onnxPath, "onnx", "", "ONNX model to import")
	f.StringVarP(&im.modelPath, "out", "o", "", "model file to write")
	f.StringVar(&im.name, "name", "", "model name (default: the ONNX file name without extension)")
	f.StringVar(&im.kind, "kind", "", "how the output is read: classifier or autoencoder")
	f.StringSliceVar(&im.features, "features", nil, "the pipeline fields the model reads, in input order")
	f.IntVar(&im.window, "window", 0, "readings per input row (default: input width / number of features)")
	f.StringSliceVar(&im.classes, "classes", nil, "classifier: the class names, one per output")
	f.Float64SliceVar(&im.mean, "mean", nil, "scaler means, one per feature; not given: all 0")
	f.Float64SliceVar(&im.std, "std", nil, "scaler standard deviations, one per feature; not given: all 1")
	f.Float64Var(&im.threshold, "threshold", 0, "autoencoder: anomaly threshold on the mean squared reconstruction error")
	for _, name := range []string{"onnx", "out", "kind", "features"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// importONNX imports im.onnxPath, gives it the metadata of im, checks the result as a
// model file reader would (models.Decode) and saves it to im.modelPath.
func importONNX(im importMeta) (*models.Dense, error) {
	m, err := models.ImportONNXFile(im.onnxPath)
	if err != nil {
		return nil, err
	}
	meta := models.Meta{Name: im.name, Kind: models.Kind(im.kind), Features: im.features, Window: im.window, Classes: im.classes}
	if meta.Name == "" {
		meta.Name = strings.TrimSuffix(filepath.Base(im.onnxPath), filepath.Ext(im.onnxPath))
	}
	if meta.Kind != models.KindClassifier && meta.Kind != models.KindAutoencoder {
		return nil, fmt.Errorf("--kind %q: want classifier or autoencoder", im.kind)
	}
	if len(im.classes) > 0 && meta.Kind != models.KindClassifier {
		return nil, errors.New("--classes is for a classifier")
	}
	if im.thresholdSet {
		if meta.Kind != models.KindAutoencoder {
			return nil, errors.New("--threshold is for an autoencoder")
		}
		meta.Thresholds = map[string]float64{"": im.threshold}
	}
	nf := len(im.features)
	if meta.Window == 0 {
		if m.InputWidth()%nf != 0 {
			return nil, fmt.Errorf("the network takes %d inputs, not a multiple of the %d features", m.InputWidth(), nf)
		}
		meta.Window = m.InputWidth() / nf
	}
	s := models.Scaler{Mean: im.mean, Std: im.std}
	if s.Mean == nil {
		s.Mean = make([]float64, nf)
	}
	if s.Std == nil {
		s.Std = make([]float64, nf)
		for j := range s.Std {
			s.Std[j] = 1
		}
	}
	meta.Scalers = map[string]models.Scaler{"": s}
	m.SetMeta(meta)
	// Decode applies every check of a model file (window × features = input width, one
	// class per output, scaler widths, …), so a file this writes is one the pipeline loads.
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return nil, err
	}
	if _, err := models.Decode(&buf); err != nil {
		return nil, fmt.Errorf("%s: %w", im.onnxPath, err)
	}
	if err := m.Save(im.modelPath); err != nil {
		return nil, err
	}
	return m, nil
}
