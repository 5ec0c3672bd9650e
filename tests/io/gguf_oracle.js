// An independent GGUF reader for tests/io/test_gguf.cpp: the npm package @huggingface/gguf
// (installed by scripts/setup into $TINYR2_HOME/npm) lists a file's keys, tensor names, ggml
// types and shapes.
//
//   node gguf_oracle.js NPM_PREFIX FILE.gguf OUT.json
//
// OUT.json: {"version", "tensor_count", "kv": {key: value, arrays as {"array": length,
// "first": first element, "last": last element}}, "tensors": [{"name", "dtype", "shape"
// (dims innermost first, as in the file), "offset"}]}.
"use strict";
const fs = require("fs");
const path = require("path");

const [prefix, file, outPath] = process.argv.slice(2);
if (!prefix || !file || !outPath) {
  console.error("usage: node gguf_oracle.js NPM_PREFIX FILE.gguf OUT.json");
  process.exit(2);
}
const modules = path.join(prefix, "node_modules");
const { gguf } = require(require.resolve("@huggingface/gguf", { paths: [modules] }));

const plain = (v) => (typeof v === "bigint" ? Number(v) : v);

(async () => {
  const { metadata, tensorInfos } = await gguf(path.resolve(file), { allowLocalFile: true });
  const kv = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
    kv[k] = Array.isArray(v)
      ? { array: v.length, first: plain(v[0]), last: plain(v[v.length - 1]) }
      : plain(v);
  }
  const out = {
    version: plain(metadata.version),
    tensor_count: plain(metadata.tensor_count),
    kv,
    tensors: tensorInfos.map((t) => ({
      name: t.name,
      dtype: plain(t.dtype),
      shape: t.shape.map(plain),
      offset: plain(t.offset),
    })),
  };
  fs.writeFileSync(outPath, JSON.stringify(out));
})().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
