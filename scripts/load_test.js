// Load test of `tinyr2 serve` (SPEC §14), bounded and on loopback only; stops by itself.
//
//   scripts/load_test [-m MODEL_DIR] [--clients 32] [--requests 20] [--threads T (1)]
//
// Without -m it makes a randomly initialised model of configs/default.json (`tinyr2 init`)
// in a temporary directory. Starts `build/tinyr2 serve --parallel 8`, then:
//   1. references: each prompt × {greedy, seeded sampling} alone, one at a time;
//   2. speed-up: aggregate decode tokens/s of 8 parallel greedy streams vs 1 stream,
//      interleaved (1, 8, 1, 8) → `ratio serve_batch8_speedup=` (target ≥ 3);
//   3. load: CLIENTS clients × REQUESTS requests, streaming and not, every 7th streaming one
//      hanging up after 3 chunks. Every finished response must equal its reference (no lost
//      and no mixed responses); the server's RSS after the load must stay within 10 % + 16 MB
//      of its RSS after warm-up; prints p50/p99 latency and aggregate tokens/s.
// Exits 1 when a check fails.
"use strict";
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const cli = path.join(root, "build", "tinyr2");
const clients = Number(opt("--clients", 32)), perClient = Number(opt("--requests", 20));
const threads = opt("--threads", "1");  // one thread: the batching gain alone, robust on a shared machine
let model = opt("-m", null);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tinyr2-load-"));
if (!model) {
  model = path.join(tmp, "model");
  execFileSync(cli, ["init", "--config", path.join(root, "configs", "default.json"), "--out", model, "-s", "1"],
               { stdio: "inherit" });
}

const prompts = ["def main():", "import os\nimport sys\n", "class Stack:", "# a comment about",
                 "for i in range(10):", "while True:", "return self.", "print('hello"];
const maxTokens = 24;
const failures = [];
const fail = (msg) => { failures.push(msg); console.log("FAIL " + msg); };

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]) * 1024;
}

async function main() {
  const server = spawn(cli, ["-t", threads, "serve", "-m", model, "--port", "0", "--parallel", "8",
                             "--queue", "64"], { stdio: ["ignore", "ignore", "pipe"] });
  const port = await new Promise((resolve, reject) => {
    let err = "";
    server.stderr.on("data", (d) => {
      err += d;
      const m = /listening on http:\/\/[^:]+:(\d+)[^]*tinyr2 serve: ready/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", (code) => reject(new Error(`the server exited (${code}): ${err}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const guard = setTimeout(() => { fail("time limit (15 min)"); server.kill("SIGKILL"); process.exit(1); },
                           15 * 60 * 1000);
  try {
    const bodyOf = (p, seeded) => ({ prompt: prompts[p], max_tokens: maxTokens, top_k: 40,
                                     ...(seeded ? { temperature: 0.9, seed: 1000 + p } : { temperature: 0 }) });
    // One request; stream → SSE; abortAfter → hang up after that many chunks.
    async function request(body, stream, abortAfter = 0) {
      const t0 = performance.now();
      const ac = new AbortController();
      const res = await fetch(base + "/v1/completions", { method: "POST", signal: ac.signal,
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...body, stream }) });
      if (res.status !== 200) return { status: res.status, ms: performance.now() - t0 };
      if (!stream) {
        const j = await res.json();
        return { status: 200, text: j.choices[0].text, tokens: j.usage.completion_tokens,
                 finish: j.choices[0].finish_reason, ms: performance.now() - t0 };
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "", text = "", chunks = 0, finish = null, done = false;
      while (!done) {
        const r = await reader.read();
        if (r.done) break;
        buf += dec.decode(r.value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const ev = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          if (!ev.startsWith("data: ")) continue;
          if (ev === "data: [DONE]") { done = true; break; }
          const c = JSON.parse(ev.slice(6)).choices[0];
          text += c.text;
          chunks += 1;
          if (c.finish_reason) finish = c.finish_reason;
        }
        if (abortAfter && chunks >= abortAfter) {
          ac.abort();
          return { status: 200, aborted: true, ms: performance.now() - t0 };
        }
      }
      return { status: 200, text, tokens: chunks - 1, finish, ms: performance.now() - t0 };
    }
    const metric = async (name) => {
      const t = await (await fetch(base + "/metrics")).text();
      return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(t)[1]);
    };

    // 1. references, alone
    const ref = {};
    for (let p = 0; p < prompts.length; p++)
      for (const seeded of [false, true]) ref[`${p}/${seeded}`] = (await request(bodyOf(p, seeded), false)).text;

    // 2. speed-up: 1 stream vs 8 parallel, interleaved
    const decodeRate = async (n) => {
      const g0 = await metric("tinyr2_generated_tokens_total");
      const t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) =>
        request({ prompt: prompts[i % prompts.length], max_tokens: 64, temperature: 0 }, true)));
      return ((await metric("tinyr2_generated_tokens_total")) - g0) / ((performance.now() - t0) / 1000);
    };
    const rates = { 1: [], 8: [] };
    for (let k = 0; k < 2; k++) { rates[1].push(await decodeRate(1)); rates[8].push(await decodeRate(8)); }
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    const speedup = mean(rates[8]) / mean(rates[1]);
    console.log(`decode: 1 stream ${rates[1].map((r) => r.toFixed(1)).join(", ")} tokens/s; ` +
                `8 streams ${rates[8].map((r) => r.toFixed(1)).join(", ")} tokens/s`);
    console.log(`ratio serve_batch8_speedup=${speedup.toFixed(2)}`);

    // 3. load
    const rssWarm = rss(server.pid);
    const lat = [];
    let finished = 0, aborted = 0, tokens = 0, k = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      for (let r = 0; r < perClient; r++) {
        const n = k++;
        const p = (c + r) % prompts.length, seeded = (c + r) % 3 === 0, stream = n % 2 === 0;
        const res = await request(bodyOf(p, seeded), stream, stream && n % 7 === 0 ? 3 : 0);
        if (res.status !== 200) { fail(`request ${c}/${r}: status ${res.status}`); continue; }
        if (res.aborted) { aborted += 1; continue; }
        finished += 1;
        tokens += res.tokens;
        lat.push(res.ms);
        if (res.text !== ref[`${p}/${seeded}`])
          fail(`request ${c}/${r} (prompt ${p}, ${seeded ? "seeded" : "greedy"}): text differs from its reference`);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 500));
    const rssEnd = rss(server.pid);
    lat.sort((a, b) => a - b);
    const q = (f) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))];
    console.log(`load: ${clients} clients x ${perClient} requests: ${finished} finished, ${aborted} hung up ` +
                `mid-stream, ${failures.length} failures in ${secs.toFixed(1)} s`);
    console.log(`latency p50 ${q(0.5).toFixed(0)} ms, p99 ${q(0.99).toFixed(0)} ms; ` +
                `aggregate ${(tokens / secs).toFixed(1)} tokens/s`);
    console.log(`rss: ${(rssWarm / 2 ** 20).toFixed(1)} MiB after warm-up, ${(rssEnd / 2 ** 20).toFixed(1)} MiB after the load`);
    if (finished + aborted !== clients * perClient) fail("requests lost");
    if (rssEnd > rssWarm * 1.1 + 16 * 2 ** 20) fail("the server's RSS grew");
    const queued = await metric("tinyr2_requests_queued"), busy = await metric("tinyr2_requests_processing");
    if (queued !== 0 || busy !== 0) fail(`left behind: ${busy} processing, ${queued} queued`);
  } finally {
    clearTimeout(guard);
    server.kill("SIGTERM");
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (failures.length) process.exit(1);
  console.log("load test passed");
}

main().catch((e) => { console.log(e.stack || String(e)); process.exit(1); });
