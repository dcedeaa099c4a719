package models

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	onnx "github.com/edgepipe/edgepipe/models/internal/onnxpb"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"
)

// The ai.onnx operator set versions ImportONNX accepts. Opset 7 brought numpy-style
// (multidirectional) broadcasting to Add and Gemm's C; before it they had a `broadcast`
// attribute with other rules. Opset 13 is the newest the importer was checked against
// (Softmax's semantics changed in 13: it works along one axis, default -1).
const (
	onnxMinOpset = 7
	onnxMaxOpset = 13
)

// onnxAttrs lists, per supported op, the attributes the importer reads; any other
// attribute on a node is rejected rather than ignored.
var onnxAttrs = map[string][]string{
	"Gemm":    {"alpha", "beta", "transA", "transB"},
	"MatMul":  nil,
	"Add":     nil,
	"Relu":    nil,
	"Sigmoid": nil,
	"Tanh":    nil,
	"Softmax": {"axis"},
}

// onnxActs maps the ONNX activation ops to the dense layer activations.
var onnxActs = map[string]Activation{
	"Relu": ActReLU, "Sigmoid": ActSigmoid, "Tanh": ActTanh, "Softmax": ActSoftmax,
}

// ImportONNX reads an ONNX model (a serialized ModelProto; ONNX IR spec, docs/IR.md in
// github.com/onnx/onnx, whose docs/Operators.md specifies the operators below) of a
// feed-forward network and returns it as a Dense network with empty metadata (Version set to
// the content hash; use SetMeta to name it and give its kind, features and scalers).
//
// The graph must have one input of shape batch × F (float or double; the batch dimension may
// be symbolic) and one output, and be a single chain from the input to the output built
// from these ai.onnx operators, with every weight an initializer:
//
//   - Gemm (Y = alpha·A'·B' + beta·C): transA = 0, transB 0 or 1, B a 2-D initializer, C
//     absent or an initializer broadcastable to 1 × out. It becomes a layer with W = alpha·B'
//     (in × out) and b = beta·C: exact folding, no approximation beyond float64 rounding.
//   - MatMul (A·B) with B a 2-D initializer (in × out): a layer with b = 0.
//   - Add right after a Gemm or MatMul, the other operand an initializer broadcastable to
//     1 × out: added to that layer's b.
//   - Relu, Sigmoid, Tanh, Softmax right after a Gemm or MatMul (after its Add, if any): the
//     layer's activation. Softmax must work along the features (axis 1 or -1, the default in
//     every opset up to 13 for a 2-D input). A layer not followed by one is linear.
//
// The model must import the ai.onnx (default domain) operator set at a version from 7 to 13.
// Initializers may hold float or double values in raw_data (little-endian) or in
// float_data/double_data.
//
// It returns an error, naming the node (op and name) where there is one, for bytes that are
// not a ModelProto (including a truncated file), an operator set outside 7..13, an op or
// attribute not listed above or from another domain, a weight that is not a 2-D
// initializer or is external, non-float or non-finite, a bias that depends on the batch
// size, widths that do not chain, an input or output that is not 2-D, more than one
// graph input or output, a value that feeds several nodes (branches, residual links),
// an Add or activation without a Gemm or MatMul before it, and nodes off the path from
// the input to the output.
func ImportONNX(r io.Reader) (*Dense, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("models: onnx: %w", err)
	}
	var m onnx.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("models: onnx: not an ONNX model, or truncated (%d bytes): %w", len(data), err)
	}
	d, err := importONNXModel(&m)
	if err != nil {
		return nil, fmt.Errorf("models: onnx: %w", err)
	}
	return d, nil
}

// ImportONNXFile is ImportONNX on the file at path; the error names path.
func ImportONNXFile(path string) (*Dense, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("models: onnx: %w", err)
	}
	defer f.Close()
	d, err := ImportONNX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// onnxGraph is the state of one import: the graph, its initializers and the layers built
// so far.
type onnxGraph struct {
	g      *onnx.GraphProto
	opset  int64
	inits  map[string]*onnx.TensorProto
	width  int // features of the current value, -1 while unknown
	layers []layer
	open   bool // the last layer may still take a bias and an activation
}

func importONNXModel(m *onnx.ModelProto) (*Dense, error) {
	opset := int64(-1)
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	switch {
	case opset < 0:
		return nil, errors.New("the model imports no ai.onnx operator set")
	case opset > onnxMaxOpset:
		return nil, fmt.Errorf("ai.onnx opset %d is newer than this importer supports (%d..%d)", opset, onnxMinOpset, onnxMaxOpset)
	case opset < onnxMinOpset:
		return nil, fmt.Errorf("ai.onnx opset %d predates numpy-style broadcasting (opset %d); supported: %d..%d", opset, onnxMinOpset, onnxMinOpset, onnxMaxOpset)
	}
	g := m.GetGraph()
	if g == nil {
		return nil, errors.New("the model has no graph")
	}
	if err := checkONNXNodes(g.GetNode()); err != nil {
		return nil, err
	}
	if n := len(g.GetSparseInitializer()); n > 0 {
		return nil, fmt.Errorf("graph has %d sparse initializers, which are not supported", n)
	}
	st := &onnxGraph{g: g, opset: opset, inits: map[string]*onnx.TensorProto{}, width: -1}
	for _, t := range g.GetInitializer() {
		st.inits[t.GetName()] = t
	}
	var inputs []*onnx.ValueInfoProto
	for _, vi := range g.GetInput() {
		if _, ok := st.inits[vi.GetName()]; !ok { // IR < 4 lists initializers as inputs too
			inputs = append(inputs, vi)
		}
	}
	if len(inputs) != 1 || len(g.GetOutput()) != 1 {
		return nil, fmt.Errorf("graph has %d inputs (%s) and %d outputs (%s), want one of each",
			len(inputs), valueNames(inputs), len(g.GetOutput()), valueNames(g.GetOutput()))
	}
	in, out := inputs[0], g.GetOutput()[0]
	w, err := onnx2DWidth(in)
	if err != nil {
		return nil, fmt.Errorf("graph input %q: %w", in.GetName(), err)
	}
	st.width = w
	if err := st.walk(in.GetName(), out.GetName()); err != nil {
		return nil, err
	}
	w, err = onnx2DWidth(out)
	switch {
	case err != nil:
		return nil, fmt.Errorf("graph output %q: %w", out.GetName(), err)
	case w >= 0 && w != st.width:
		return nil, fmt.Errorf("graph output %q declares %d features, the network computes %d", out.GetName(), w, st.width)
	}
	d := &Dense{layers: st.layers}
	d.SetMeta(Meta{})
	return d, nil
}

// checkONNXNodes rejects any node whose op, domain, attributes or output count the importer
// does not support, before shapes are looked at.
func checkONNXNodes(nodes []*onnx.NodeProto) error {
	for i, n := range nodes {
		ref := onnxNodeRef(n, i)
		allowed, ok := onnxAttrs[n.GetOpType()]
		if dom := n.GetDomain(); dom != "" && dom != "ai.onnx" {
			ok = false
		}
		if !ok {
			return fmt.Errorf("%s (domain %q): unsupported op; the importer takes ai.onnx Gemm, MatMul, Add, Relu, Sigmoid, Tanh and Softmax", ref, n.GetDomain())
		}
		for _, a := range n.GetAttribute() {
			if !slices.Contains(allowed, a.GetName()) {
				return fmt.Errorf("%s: unsupported attribute %q", ref, a.GetName())
			}
		}
		if len(n.GetOutput()) != 1 {
			return fmt.Errorf("%s: %d outputs, want 1", ref, len(n.GetOutput()))
		}
	}
	return nil
}

// walk follows the chain of nodes from the value named from to the value named to,
// building the layers, and checks that no node is left over.
func (st *onnxGraph) walk(from, to string) error {
	nodes := st.g.GetNode()
	consumers := map[string][]int{}
	for i, n := range nodes {
		for _, v := range slices.Compact(slices.Sorted(slices.Values(n.GetInput()))) {
			if v != "" {
				consumers[v] = append(consumers[v], i)
			}
		}
	}
	seen := make([]bool, len(nodes))
	for cur := from; cur != to; {
		next := consumers[cur]
		switch {
		case len(next) == 0:
			return fmt.Errorf("value %q feeds no node and is not the graph output %q", cur, to)
		case len(next) > 1:
			refs := make([]string, len(next))
			for k, i := range next {
				refs[k] = onnxNodeRef(nodes[i], i)
			}
			return fmt.Errorf("value %q feeds %d nodes (%s): branches are not supported", cur, len(next), strings.Join(refs, ", "))
		case seen[next[0]]:
			return fmt.Errorf("%s: the graph has a cycle", onnxNodeRef(nodes[next[0]], next[0]))
		}
		i := next[0]
		seen[i] = true
		if err := st.node(nodes[i], i, cur); err != nil {
			return err
		}
		cur = nodes[i].GetOutput()[0]
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("%s is not on the path from the graph input %q to the output %q", onnxNodeRef(nodes[i], i), from, to)
		}
	}
	if len(st.layers) == 0 {
		return errors.New("the graph has no Gemm or MatMul")
	}
	return nil
}

// node adds node n (index i in the graph), whose data input is the value named cur, to the
// layers.
func (st *onnxGraph) node(n *onnx.NodeProto, i int, cur string) error {
	ref := onnxNodeRef(n, i)
	ins := n.GetInput()
	op := n.GetOpType()
	switch op {
	case "Gemm", "MatMul":
		if len(ins) < 2 || len(ins) > 3 || (op == "MatMul" && len(ins) != 2) || ins[0] != cur {
			return fmt.Errorf("%s: inputs %q, want the data %q first and then initializers", ref, ins, cur)
		}
		ly, err := st.fullyConnected(n, ref)
		if err != nil {
			return err
		}
		st.layers = append(st.layers, ly)
		st.open = true
	case "Add":
		if !st.open {
			return fmt.Errorf("%s: an Add must follow a Gemm or MatMul (it becomes that layer's bias)", ref)
		}
		if len(ins) != 2 {
			return fmt.Errorf("%s: %d inputs, want 2", ref, len(ins))
		}
		other := ins[0]
		if other == cur {
			other = ins[1]
		}
		ly := &st.layers[len(st.layers)-1]
		b, err := st.bias(other, len(ly.B))
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		for j := range b {
			ly.B[j] += b[j]
		}
	default: // Relu, Sigmoid, Tanh, Softmax (checkONNXNodes let no other op through)
		if !st.open {
			return fmt.Errorf("%s: an activation must follow a Gemm or MatMul (and its Add)", ref)
		}
		if len(ins) != 1 {
			return fmt.Errorf("%s: %d inputs, want 1", ref, len(ins))
		}
		if op == "Softmax" {
			axis := int64(1) // opset < 13: coerce to 2-D at axis 1
			if st.opset >= 13 {
				axis = -1
			}
			if a, ok := onnxAttr(n, "axis"); ok {
				if a.GetType() != onnx.AttributeProto_INT {
					return fmt.Errorf("%s: attribute axis is %s, want INT", ref, a.GetType())
				}
				axis = a.GetI()
			}
			if axis != 1 && axis != -1 {
				return fmt.Errorf("%s: axis %d, only the feature axis (1 or -1) is supported", ref, axis)
			}
		}
		st.layers[len(st.layers)-1].Act = onnxActs[op]
		st.open = false
	}
	return nil
}

// fullyConnected builds the layer of a Gemm or MatMul node, checking its input width.
func (st *onnxGraph) fullyConnected(n *onnx.NodeProto, ref string) (layer, error) {
	alpha, beta := 1.0, 1.0
	var transB int64
	for _, a := range n.GetAttribute() {
		want := onnx.AttributeProto_FLOAT
		if strings.HasPrefix(a.GetName(), "trans") {
			want = onnx.AttributeProto_INT
		}
		if a.GetType() != want {
			return layer{}, fmt.Errorf("%s: attribute %s is %s, want %s", ref, a.GetName(), a.GetType(), want)
		}
		switch a.GetName() {
		case "alpha":
			alpha = float64(a.GetF())
		case "beta":
			beta = float64(a.GetF())
		case "transA":
			if a.GetI() != 0 {
				return layer{}, fmt.Errorf("%s: transA = %d, only 0 is supported (the rows are the batch)", ref, a.GetI())
			}
		case "transB":
			transB = a.GetI()
			if transB != 0 && transB != 1 {
				return layer{}, fmt.Errorf("%s: transB = %d, want 0 or 1", ref, transB)
			}
		}
	}
	ins := n.GetInput()
	vals, dims, err := st.initializer(ins[1])
	if err != nil {
		return layer{}, fmt.Errorf("%s: weights: %w", ref, err)
	}
	if len(dims) != 2 {
		return layer{}, fmt.Errorf("%s: weights %q have shape %v, want 2-D", ref, ins[1], dims)
	}
	rows, cols := int(dims[0]), int(dims[1])
	w := mat.NewDense(rows, cols, vals)
	in, out := rows, cols
	if transB == 1 {
		in, out = cols, rows
		w = mat.DenseCopyOf(w.T())
	}
	if st.width >= 0 && in != st.width {
		return layer{}, fmt.Errorf("%s: weights %q take %d features, its input has %d", ref, ins[1], in, st.width)
	}
	st.width = out
	w.Scale(alpha, w)
	b := make([]float64, out)
	if len(ins) == 3 && ins[2] != "" {
		c, err := st.bias(ins[2], out)
		if err != nil {
			return layer{}, fmt.Errorf("%s: C: %w", ref, err)
		}
		for j := range b {
			b[j] = beta * c[j]
		}
	}
	return layer{W: w, B: b, Act: ActLinear}, nil
}

// bias reads the initializer name as a bias for out features: a tensor unidirectionally
// broadcastable (ONNX docs/Broadcasting.md) to batch × out whatever the batch size, that is
// of shape [], [k], [1, k] with k = 1 or out. It returns out values.
func (st *onnxGraph) bias(name string, out int) ([]float64, error) {
	vals, dims, err := st.initializer(name)
	if err != nil {
		return nil, err
	}
	k := 1
	switch len(dims) {
	case 0:
	case 1:
		k = int(dims[0])
	case 2:
		if dims[0] != 1 {
			return nil, fmt.Errorf("bias %q has shape %v: it must not depend on the batch (want [%d] or [1, %d])", name, dims, out, out)
		}
		k = int(dims[1])
	default:
		return nil, fmt.Errorf("bias %q has shape %v, want [%d] or [1, %d]", name, dims, out, out)
	}
	if k != 1 && k != out {
		return nil, fmt.Errorf("bias %q has %d values for %d features", name, k, out)
	}
	b := make([]float64, out)
	for j := range b {
		b[j] = vals[j%k]
	}
	return b, nil
}

// initializer returns the values (row-major) and dims of the float or double initializer
// name.
func (st *onnxGraph) initializer(name string) ([]float64, []int64, error) {
	t, ok := st.inits[name]
	if !ok {
		return nil, nil, fmt.Errorf("%q is not an initializer (weights must be constants in the graph)", name)
	}
	if t.GetDataLocation() == onnx.TensorProto_EXTERNAL {
		return nil, nil, fmt.Errorf("initializer %q is stored in an external file, which is not supported", name)
	}
	dims := t.GetDims()
	n := 1
	for _, d := range dims {
		if d <= 0 {
			return nil, nil, fmt.Errorf("initializer %q has shape %v", name, dims)
		}
		n *= int(d)
	}
	var vals []float64
	raw := t.GetRawData()
	switch dt := onnx.TensorProto_DataType(t.GetDataType()); dt {
	case onnx.TensorProto_FLOAT:
		if raw == nil {
			for _, v := range t.GetFloatData() {
				vals = append(vals, float64(v))
			}
			break
		}
		for k := 0; k+4 <= len(raw); k += 4 {
			vals = append(vals, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[k:]))))
		}
		if len(raw)%4 != 0 {
			return nil, nil, fmt.Errorf("initializer %q: %d bytes of raw float data", name, len(raw))
		}
	case onnx.TensorProto_DOUBLE:
		if raw == nil {
			vals = append(vals, t.GetDoubleData()...)
			break
		}
		for k := 0; k+8 <= len(raw); k += 8 {
			vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(raw[k:])))
		}
		if len(raw)%8 != 0 {
			return nil, nil, fmt.Errorf("initializer %q: %d bytes of raw double data", name, len(raw))
		}
	default:
		return nil, nil, fmt.Errorf("initializer %q holds %s, want FLOAT or DOUBLE", name, dt)
	}
	if len(vals) != n {
		return nil, nil, fmt.Errorf("initializer %q has %d values for shape %v (%d)", name, len(vals), dims, n)
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("initializer %q holds %v", name, v)
		}
	}
	return vals, dims, nil
}

// onnx2DWidth checks that vi is a float or double tensor of shape batch × F and returns F,
// or -1 when F is symbolic or unknown.
func onnx2DWidth(vi *onnx.ValueInfoProto) (int, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return 0, errors.New("not a tensor")
	}
	switch et := onnx.TensorProto_DataType(tt.GetElemType()); et {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE:
	default:
		return 0, fmt.Errorf("element type %s, want FLOAT or DOUBLE", et)
	}
	if tt.GetShape() == nil {
		return 0, errors.New("no shape: its rank must be known to be 2 (batch × features)")
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 2 {
		return 0, fmt.Errorf("rank %d, want 2 (batch × features)", len(dims))
	}
	if _, ok := dims[1].GetValue().(*onnx.TensorShapeProto_Dimension_DimValue); !ok {
		return -1, nil
	}
	return int(dims[1].GetDimValue()), nil
}

// onnxAttr returns n's attribute name.
func onnxAttr(n *onnx.NodeProto, name string) (*onnx.AttributeProto, bool) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a, true
		}
	}
	return nil, false
}

// onnxNodeRef names node n (index i in the graph) for an error: `Gemm node "fc1"`.
func onnxNodeRef(n *onnx.NodeProto, i int) string {
	if n.GetName() == "" {
		return fmt.Sprintf("%s node #%d (unnamed)", n.GetOpType(), i)
	}
	return fmt.Sprintf("%s node %q", n.GetOpType(), n.GetName())
}

func valueNames(vs []*onnx.ValueInfoProto) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = fmt.Sprintf("%q", v.GetName())
	}
	return strings.Join(names, ", ")
}
