"""Writes the ONNX test models of models/onnx_test.go and their input batches.

Run from this folder with Debian's packages (python3-onnx 1.12, python3-numpy 1.24):

    /usr/bin/python3 gen.py

It writes the *.onnx files, built with onnx.helper and checked with onnx.checker, and
inputs.json: for each model that edgepipe must import, its file and a seeded random input
batch. run.mjs then computes the reference outputs with ONNX Runtime (see README.md).
"""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20240605)
F32, F64 = TensorProto.FLOAT, TensorProto.DOUBLE


def weights(name, shape, dtype=np.float32, raw=True):
    """A seeded normal tensor, stored as raw_data (raw=True) or float_data/double_data."""
    a = rng.normal(0, 0.8, size=shape).astype(dtype)
    if raw:
        return numpy_helper.from_array(a, name)
    kind = F32 if dtype == np.float32 else F64
    return helper.make_tensor(name, kind, list(shape), a.flatten().tolist(), raw=False)


def save(fname, nodes, inits, n_in, n_out, opset, elem=F32, batch="N", ir=None,
         inits_as_inputs=False):
    inputs = [helper.make_tensor_value_info("x", elem, [batch, n_in])]
    if inits_as_inputs:  # the IR < 4 convention: every initializer is also a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, fname.removesuffix(".onnx"), inputs,
                              [helper.make_tensor_value_info("y", elem, [batch, n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="edgepipe-testdata")
    if ir is not None:
        model.ir_version = ir
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, fname)
    return model


cases = {}


def case(name, fname, n_in, rows=5, dtype=np.float32):
    x = rng.normal(0, 1.5, size=(rows, n_in)).astype(dtype)
    cases[name] = {"file": fname, "dtype": "float32" if dtype == np.float32 else "float64",
                   "input": [[float(v) for v in r] for r in x]}


N = helper.make_node

# Gemm, transB = 1, alpha and beta != 1, bias of shape [out], no activation: one linear layer.
save("gemm_transb.onnx",
     [N("Gemm", ["x", "B", "C"], ["y"], name="gemm0", alpha=0.7, beta=1.3, transB=1)],
     [weights("B", (3, 4)), weights("C", (3,))], 4, 3, 13)
case("gemm_transb", "gemm_transb.onnx", 4)

# Gemm, transB = 0, alpha 2, beta 0.5, C of shape [1, out] stored as float_data.
save("gemm_floatdata.onnx",
     [N("Gemm", ["x", "B", "C"], ["y"], name="gemm0", alpha=2.0, beta=0.5)],
     [weights("B", (4, 2), raw=False), weights("C", (1, 2), raw=False)], 4, 2, 11)
case("gemm_floatdata", "gemm_floatdata.onnx", 4)

# Gemm without C (optional from opset 11), then Relu.
save("gemm_noc_relu.onnx",
     [N("Gemm", ["x", "B"], ["h"], name="gemm0"), N("Relu", ["h"], ["y"], name="relu0")],
     [weights("B", (3, 5))], 3, 5, 13)
case("gemm_noc_relu", "gemm_noc_relu.onnx", 3)

# MatMul + Add (bias as the first Add input) + Relu.
save("matmul_add_relu.onnx",
     [N("MatMul", ["x", "W"], ["h"], name="mm0"), N("Add", ["b", "h"], ["z"], name="add0"),
      N("Relu", ["z"], ["y"], name="relu0")],
     [weights("W", (4, 3)), weights("b", (3,))], 4, 3, 13)
case("matmul_add_relu", "matmul_add_relu.onnx", 4)

# MatMul + Add + Sigmoid, opset 11.
save("matmul_add_sigmoid.onnx",
     [N("MatMul", ["x", "W"], ["h"], name="mm0"), N("Add", ["h", "b"], ["z"], name="add0"),
      N("Sigmoid", ["z"], ["y"], name="sig0")],
     [weights("W", (3, 2)), weights("b", (1, 2))], 3, 2, 11)
case("matmul_add_sigmoid", "matmul_add_sigmoid.onnx", 3)

# Gemm + Tanh in float64 (double_data), opset 8, IR 3 with the initializers also listed as
# graph inputs, batch fixed at 4.
save("gemm_tanh_double.onnx",
     [N("Gemm", ["x", "B", "C"], ["h"], name="gemm0", beta=1.0),
      N("Tanh", ["h"], ["y"], name="tanh0")],
     [weights("B", (3, 3), np.float64, raw=False), weights("C", (3,), np.float64, raw=False)],
     3, 3, 8, elem=F64, batch=4, ir=3, inits_as_inputs=True)
case("gemm_tanh_double", "gemm_tanh_double.onnx", 3, rows=4, dtype=np.float64)

# MatMul without bias + Softmax (opset 13 default axis -1).
save("matmul_softmax.onnx",
     [N("MatMul", ["x", "W"], ["z"], name="mm0"), N("Softmax", ["z"], ["y"], name="sm0")],
     [weights("W", (4, 3))], 4, 3, 13)
case("matmul_softmax", "matmul_softmax.onnx", 4)

# Softmax classifier, opset 11 (Softmax axis 1 on 2-D input): Gemm-Relu-Gemm-Softmax.
save("classifier.onnx",
     [N("Gemm", ["x", "W1", "b1"], ["h1"], name="fc1", transB=1),
      N("Relu", ["h1"], ["a1"], name="relu1"),
      N("Gemm", ["a1", "W2", "b2"], ["z"], name="fc2", transB=1),
      N("Softmax", ["z"], ["y"], name="softmax", axis=1)],
     [weights("W1", (6, 5)), weights("b1", (6,)), weights("W2", (3, 6)), weights("b2", (3,))],
     5, 3, 11)
case("classifier", "classifier.onnx", 5, rows=8)

# Three layers, mixed forms: MatMul+Add+Tanh, Gemm(alpha, beta)+Sigmoid, MatMul+Add linear.
mlp = [N("MatMul", ["x", "W1"], ["m1"], name="l1_matmul"),
       N("Add", ["m1", "b1"], ["z1"], name="l1_add"),
       N("Tanh", ["z1"], ["h1"], name="l1_tanh"),
       N("Gemm", ["h1", "W2", "b2"], ["z2"], name="l2_gemm", alpha=0.5, beta=2.0),
       N("Sigmoid", ["z2"], ["h2"], name="l2_sigmoid"),
       N("MatMul", ["h2", "W3"], ["m3"], name="l3_matmul"),
       N("Add", ["m3", "b3"], ["y"], name="l3_add")]
mlp_inits = [weights("W1", (6, 8)), weights("b1", (8,)), weights("W2", (8, 4)),
             weights("b2", (4,)), weights("W3", (4, 6)), weights("b3", (6,))]
mlp_model = save("mlp3.onnx", mlp, mlp_inits, 6, 6, 13)
case("mlp3", "mlp3.onnx", 6, rows=7)

# --- files edgepipe must reject ---

# A convolution (opset 13).
conv_inits = [weights("K", (2, 1, 3, 3)), weights("kb", (2,))]
conv_graph = helper.make_graph(
    [N("Conv", ["x", "K", "kb"], ["y"], name="conv0", pads=[1, 1, 1, 1])], "conv",
    [helper.make_tensor_value_info("x", F32, ["N", 1, 4, 4])],
    [helper.make_tensor_value_info("y", F32, ["N", 2, 4, 4])], conv_inits)
conv = helper.make_model(conv_graph, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(conv, full_check=True)
onnx.save(conv, "conv.onnx")

# A supported graph that declares opset 17 (checked with onnx 1.12, which knows opset 17).
save("opset17.onnx",
     [N("MatMul", ["x", "W"], ["h"], name="mm0"), N("Add", ["h", "b"], ["y"], name="add0")],
     [weights("W", (3, 2)), weights("b", (2,))], 3, 2, 17)

# mlp3.onnx cut in the middle of its weights.
full = mlp_model.SerializeToString()
with open("truncated.onnx", "wb") as f:
    f.write(full[: len(full) // 2])

with open("inputs.json", "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
    f.write("\n")
