package models

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnx "github.com/edgepipe/edgepipe/models/internal/onnxpb"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"
)

const onnxDir = "testdata/onnx"

// onnxCase is one entry of testdata/onnx/expected.json: a model, an input batch and the
// output ONNX Runtime computed for it (see testdata/onnx/README.md).
type onnxCase struct {
	File   string      `json:"file"`
	Input  [][]float64 `json:"input"`
	Output [][]float64 `json:"output"`
}

func readONNXCases(t *testing.T) map[string]onnxCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(onnxDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]onnxCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestImportONNXMatchesOnnxRuntime(t *testing.T) {
	// The layers each graph must fold into (see gen.py).
	wantActs := map[string][]Activation{
		"gemm_transb":        {ActLinear},
		"gemm_floatdata":     {ActLinear},
		"gemm_noc_relu":      {ActReLU},
		"matmul_add_relu":    {ActReLU},
		"matmul_add_sigmoid": {ActSigmoid},
		"gemm_tanh_double":   {ActTanh},
		"matmul_softmax":     {ActSoftmax},
		"classifier":         {ActReLU, ActSoftmax},
		"mlp3":               {ActTanh, ActSigmoid, ActLinear},
	}
	cases := readONNXCases(t)
	if len(cases) != len(wantActs) {
		t.Fatalf("expected.json has %d cases, the test knows %d", len(cases), len(wantActs))
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := ImportONNXFile(filepath.Join(onnxDir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			var acts []Activation
			for _, ly := range d.layers {
				acts = append(acts, ly.Act)
			}
			if !slices.Equal(acts, wantActs[name]) {
				t.Errorf("layers %v, want %v", acts, wantActs[name])
			}
			rows, cols := len(c.Input), len(c.Input[0])
			if d.InputWidth() != cols || d.OutputWidth() != len(c.Output[0]) {
				t.Fatalf("widths %d → %d, want %d → %d", d.InputWidth(), d.OutputWidth(), cols, len(c.Output[0]))
			}
			in := mat.NewDense(rows, cols, slices.Concat(c.Input...))
			out := mat.NewDense(rows, d.OutputWidth(), nil)
			d.Predict(in, out)
			var worst float64
			for i, want := range c.Output {
				for j, w := range want {
					diff := math.Abs(out.At(i, j) - w)
					if diff > 1e-5 {
						t.Errorf("row %d output %d: %.8f, onnxruntime %.8f", i, j, out.At(i, j), w)
					}
					worst = math.Max(worst, diff)
				}
			}
			t.Logf("largest difference from onnxruntime: %.2g", worst)
		})
	}
}

// TestImportONNXSavesAndLoads checks that an imported network becomes a model file that
// Decode accepts and that predicts the same.
func TestImportONNXSavesAndLoads(t *testing.T) {
	c := readONNXCases(t)["classifier"]
	d, err := ImportONNXFile(filepath.Join(onnxDir, c.File))
	if err != nil {
		t.Fatal(err)
	}
	d.SetMeta(Meta{Name: "iris-like", Kind: KindClassifier, Classes: []string{"a", "b", "c"},
		Features: []string{"f1", "f2", "f3", "f4", "f5"}, Window: 1})
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Meta().Version != d.Meta().Version {
		t.Errorf("version %s after decode, %s before", back.Meta().Version, d.Meta().Version)
	}
	in := mat.NewDense(len(c.Input), len(c.Input[0]), slices.Concat(c.Input...))
	out := mat.NewDense(len(c.Input), 3, nil)
	back.Predict(in, out)
	if got, want := out.At(0, 0), c.Output[0][0]; math.Abs(got-want) > 1e-5 {
		t.Errorf("decoded model: row 0 output 0 %.8f, onnxruntime %.8f", got, want)
	}
}

func TestImportONNXRejectsFiles(t *testing.T) {
	for file, want := range map[string]string{
		"conv.onnx":      `Conv node "conv0" (domain ""): unsupported op`,
		"opset17.onnx":   "ai.onnx opset 17 is newer than this importer supports (7..13)",
		"truncated.onnx": "not an ONNX model, or truncated (445 bytes)",
	} {
		_, err := ImportONNXFile(filepath.Join(onnxDir, file))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %v, want one naming the file and saying %q", file, err, want)
		}
	}
}

// TestImportONNXRejectsGraphs edits valid test models into graphs the importer must refuse.
func TestImportONNXRejectsGraphs(t *testing.T) {
	f32 := func(vals ...float32) *onnx.TensorProto {
		return &onnx.TensorProto{Name: "extra", DataType: int32(onnx.TensorProto_FLOAT), Dims: []int64{int64(len(vals))}, FloatData: vals}
	}
	node := func(g *onnx.GraphProto, name string) *onnx.NodeProto {
		for _, n := range g.GetNode() {
			if n.GetName() == name {
				return n
			}
		}
		t.Fatalf("no node %q", name)
		return nil
	}
	init := func(g *onnx.GraphProto, name string) *onnx.TensorProto {
		for _, x := range g.GetInitializer() {
			if x.GetName() == name {
				return x
			}
		}
		t.Fatalf("no initializer %q", name)
		return nil
	}
	intAttr := func(name string, v int64) *onnx.AttributeProto {
		return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INT, I: v}
	}
	for _, tc := range []struct {
		name, file string
		edit       func(m *onnx.ModelProto)
		want       string
	}{
		{"transA", "gemm_transb.onnx", func(m *onnx.ModelProto) {
			n := node(m.Graph, "gemm0")
			n.Attribute = append(n.Attribute, intAttr("transA", 1))
		}, `Gemm node "gemm0": transA = 1, only 0 is supported`},
		{"unknown attribute", "gemm_transb.onnx", func(m *onnx.ModelProto) {
			n := node(m.Graph, "gemm0")
			n.Attribute = append(n.Attribute, intAttr("broadcast", 1))
		}, `Gemm node "gemm0": unsupported attribute "broadcast"`},
		{"alpha as INT", "gemm_transb.onnx", func(m *onnx.ModelProto) {
			n := node(m.Graph, "gemm0")
			n.Attribute[0] = intAttr("alpha", 2)
		}, `Gemm node "gemm0": attribute alpha is INT, want FLOAT`},
		{"softmax axis 0", "classifier.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "softmax").Attribute = []*onnx.AttributeProto{intAttr("axis", 0)}
		}, `Softmax node "softmax": axis 0, only the feature axis`},
		{"other domain", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "relu0").Domain = "com.microsoft"
		}, `Relu node "relu0" (domain "com.microsoft"): unsupported op`},
		{"opset 6", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.OpsetImport[0].Version = 6
		}, "ai.onnx opset 6 predates numpy-style broadcasting"},
		{"no ai.onnx opset", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.OpsetImport[0].Domain = "ai.onnx.ml"
		}, "imports no ai.onnx operator set"},
		{"branch", "classifier.onnx", func(m *onnx.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &onnx.NodeProto{OpType: "Tanh", Name: "side", Input: []string{"h1"}, Output: []string{"s"}})
		}, `value "h1" feeds 2 nodes (Relu node "relu1", Tanh node "side"): branches are not supported`},
		{"node off the path", "classifier.onnx", func(m *onnx.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &onnx.NodeProto{OpType: "Relu", Input: []string{"b2"}, Output: []string{"s"}})
		}, `Relu node #4 (unnamed) is not on the path from the graph input "x" to the output "y"`},
		{"two inputs", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Input = append(m.Graph.Input, proto.Clone(m.Graph.Input[0]).(*onnx.ValueInfoProto))
			m.Graph.Input[1].Name = "x2"
		}, `graph has 2 inputs ("x", "x2") and 1 outputs ("y"), want one of each`},
		{"two outputs", "mlp3.onnx", func(m *onnx.ModelProto) {
			m.Graph.Output = append(m.Graph.Output, &onnx.ValueInfoProto{Name: "h1"})
		}, `graph has 1 inputs ("x") and 2 outputs ("y", "h1"), want one of each`},
		{"3-D weights", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			init(m.Graph, "W").Dims = []int64{4, 3, 1}
		}, `MatMul node "mm0": weights "W" have shape [4 3 1], want 2-D`},
		{"weights not an initializer", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "mm0").Input[1] = "x"
		}, `MatMul node "mm0": weights: "x" is not an initializer`},
		{"width mismatch", "mlp3.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "l2_gemm").Input[1] = "W3" // 4 × 6 after an 8-wide layer
		}, `Gemm node "l2_gemm": weights "W3" take 4 features, its input has 8`},
		{"declared input width", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Input[0].Type.GetTensorType().Shape.Dim[1].Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: 5}
		}, `MatMul node "mm0": weights "W" take 4 features, its input has 5`},
		{"declared output width", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Output[0].Type.GetTensorType().Shape.Dim[1].Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: 2}
		}, `graph output "y" declares 2 features, the network computes 3`},
		{"input without shape", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Input[0].Type.GetTensorType().Shape = nil
		}, `graph input "x": no shape: its rank must be known to be 2`},
		{"3-D input", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			s := m.Graph.Input[0].Type.GetTensorType().Shape
			s.Dim = append(s.Dim, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: 1}})
		}, `graph input "x": rank 3, want 2`},
		{"bias depends on batch", "gemm_floatdata.onnx", func(m *onnx.ModelProto) {
			init(m.Graph, "C").Dims = []int64{2, 1}
		}, `Gemm node "gemm0": C: bias "C" has shape [2 1]: it must not depend on the batch`},
		{"bias width", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, f32(1, 2))
			node(m.Graph, "add0").Input[0] = "extra"
		}, `Add node "add0": bias "extra" has 2 values for 3 features`},
		{"Add of two values", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "add0").Input[0] = "h"
		}, `Add node "add0": "h" is not an initializer`},
		{"activation first", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			relu, mm, add := node(m.Graph, "relu0"), node(m.Graph, "mm0"), node(m.Graph, "add0")
			relu.Input, relu.Output = []string{"x"}, []string{"r"}
			mm.Input[0] = "r"
			add.Output[0] = "y"
		}, `Relu node "relu0": an activation must follow a Gemm or MatMul`},
		{"bias after activation", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			relu, add := node(m.Graph, "relu0"), node(m.Graph, "add0")
			relu.Input, relu.Output = []string{"h"}, []string{"r"}
			add.Input = []string{"r", "b"}
			add.Output[0] = "y"
		}, `Add node "add0": an Add must follow a Gemm or MatMul`},
		{"int64 weights", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			init(m.Graph, "W").DataType = int32(onnx.TensorProto_INT64)
		}, `MatMul node "mm0": weights: initializer "W" holds INT64, want FLOAT or DOUBLE`},
		{"external weights", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			init(m.Graph, "W").DataLocation = onnx.TensorProto_EXTERNAL
		}, `initializer "W" is stored in an external file`},
		{"short weights", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			w := init(m.Graph, "W")
			w.RawData = w.RawData[:len(w.RawData)-4]
		}, `initializer "W" has 11 values for shape [4 3] (12)`},
		{"NaN weight", "gemm_floatdata.onnx", func(m *onnx.ModelProto) {
			init(m.Graph, "B").FloatData[3] = float32(math.NaN())
		}, `initializer "B" holds NaN`},
		{"cycle", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			node(m.Graph, "relu0").Output[0] = "h"
		}, `Add node "add0": the graph has a cycle`},
		{"no layers", "matmul_add_relu.onnx", func(m *onnx.ModelProto) {
			m.Graph.Node = nil
			m.Graph.Output[0].Name = "x"
		}, "the graph has no Gemm or MatMul"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(onnxDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var m onnx.ModelProto
			if err := proto.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(&m)
			if b, err = proto.Marshal(&m); err != nil {
				t.Fatal(err)
			}
			_, err = ImportONNX(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
