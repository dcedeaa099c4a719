// Computes the reference outputs of models/onnx_test.go with ONNX Runtime (npm package
// onnxruntime-node 1.30.0, CPU execution provider): for each case of inputs.json it runs the
// model on the input batch and writes expected.json (file, dtype, input, output). Run from this
// folder after gen.py, with the package installed somewhere on NODE_PATH (see README.md):
//
//	NODE_PATH=/path/to/node_modules node run.mjs
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const cases = JSON.parse(readFileSync('inputs.json', 'utf8'));
const out = {};
for (const name of Object.keys(cases).sort()) {
  const c = cases[name];
  const session = await ort.InferenceSession.create(c.file, { executionProviders: ['cpu'] });
  const rows = c.input.length;
  const cols = c.input[0].length;
  const Arr = c.dtype === 'float64' ? Float64Array : Float32Array;
  const x = new ort.Tensor(c.dtype, Arr.from(c.input.flat()), [rows, cols]);
  const res = await session.run({ [session.inputNames[0]]: x });
  const y = res[session.outputNames[0]];
  const [r, k] = y.dims;
  const output = [];
  for (let i = 0; i < r; i++) output.push(Array.from(y.data.slice(i * k, (i + 1) * k)));
  out[name] = { file: c.file, dtype: c.dtype, input: c.input, output, runtime: `onnxruntime-node ${ort.env.versions.node}` };
}
writeFileSync('expected.json', JSON.stringify(out, null, 1) + '\n');
