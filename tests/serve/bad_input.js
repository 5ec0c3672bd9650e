// Bad input against a running `tinyr2 serve` (SPEC §14): every request below gets an OpenAI
// error object with the right status and the server keeps serving. Run by
// tests/serve/test_serve.cpp: node bad_input.js PORT KEY CTX SMALL_PORT
//   PORT        a server with --api-key KEY, --ctx CTX, --timeout 1
//   SMALL_PORT  a server with the same key, --parallel 1 --queue 0 (queue full, disconnects)
"use strict";
const assert = require("node:assert/strict");
const net = require("node:net");

const [port, key, ctx, smallPort] = process.argv.slice(2);
const auth = { Authorization: `Bearer ${key}` };

// A raw HTTP/1.1 request (body: string or Buffer); resolves {status, json}.
function raw(p, method, path, body, headers = auth) {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(p), "127.0.0.1");
    const buf = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
    let head = `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${buf.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    s.write(head + "Content-Type: application/json\r\n\r\n");
    s.write(buf);
    const chunks = [];
    s.on("data", (d) => chunks.push(d));
    s.on("error", reject);
    s.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(text.slice(9, 12));
      const payload = text.slice(text.indexOf("\r\n\r\n") + 4);
      let json = null;
      try { json = JSON.parse(payload); } catch (e) { /* not JSON */ }
      resolve({ status, json, text });
    });
  });
}

function isError(r, status, param) {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.ok(r.json && r.json.error, `no error object: ${r.text.slice(0, 300)}`);
  for (const f of ["message", "type", "param", "code"]) assert.ok(f in r.json.error, `no ${f}`);
  assert.equal(typeof r.json.error.message, "string");
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

const post = (path, body, p = port, h = auth) =>
  raw(p, "POST", path, typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body), h);

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

check("invalid JSON", async () => {
  isError(await post("/v1/completions", "{\"prompt\": \"x\","), 400);
  isError(await post("/v1/completions", "[1, 2]"), 400);
  isError(await post("/v1/chat/completions", ""), 400);
});
check("wrong field types", async () => {
  isError(await post("/v1/completions", { prompt: 5 }), 400, "prompt");
  isError(await post("/v1/completions", { prompt: "x", max_tokens: "7" }), 400, "max_tokens");
  isError(await post("/v1/completions", { prompt: "x", temperature: "hot" }), 400, "temperature");
  isError(await post("/v1/completions", { prompt: "x", stream: "yes" }), 400, "stream");
  isError(await post("/v1/completions", { prompt: "x", stop: [1] }), 400, "stop");
  isError(await post("/v1/completions", { prompt: "x", stop: ["a", "b", "c", "d", "e"] }), 400, "stop");
  isError(await post("/v1/completions", { prompt: "x", logprobs: 6 }), 400, "logprobs");
  isError(await post("/v1/completions", { prompt: "x", n: 2 }), 400, "n");
  isError(await post("/v1/completions", { prompt: "x", top_p: 1.5 }), 400, "top_p");
  isError(await post("/v1/completions", { prompt: [1, "a"] }), 400, "prompt");
  isError(await post("/v1/completions", { prompt: [99999999] }), 400, "prompt");
  isError(await post("/v1/chat/completions", { messages: "hi" }), 400, "messages");
  isError(await post("/v1/chat/completions", { messages: [{ role: 1, content: "x" }] }), 400, "messages");
  isError(await post("/tokenize", { content: 3 }), 400, "content");
  isError(await post("/detokenize", { tokens: [-1] }), 400, "tokens");
});
check("negative and huge max_tokens", async () => {
  isError(await post("/v1/completions", { prompt: "x", max_tokens: -1 }), 400, "max_tokens");
  isError(await post("/v1/completions", { prompt: "x", max_tokens: 1e12 }), 400, "max_tokens");
  isError(await post("/v1/completions", { prompt: "x", max_tokens: 1e300 }), 400, "max_tokens");
  isError(await post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 99999999999999999999999}"), 400);
});
check("a prompt longer than the context", async () => {
  const r = await post("/v1/completions", { prompt: " word".repeat(Number(ctx) + 5) });
  isError(r, 400, "prompt");
  assert.equal(r.json.error.code, "context_length_exceeded");
});
check("invalid UTF-8 in the body", async () => {
  isError(await post("/v1/completions", Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22,
                                                     0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d])), 400);
});
check("deeply nested JSON", async () => {
  isError(await post("/v1/completions", "[".repeat(100000) + "]".repeat(100000)), 400);
  isError(await post("/v1/completions", "{\"prompt\":" + "[".repeat(5000) + "]".repeat(5000) + "}"), 400);
});
check("a 10 MB body", async () => {
  isError(await post("/v1/completions", JSON.stringify({ prompt: "a".repeat(10 << 20) })), 413);
});
check("unknown routes", async () => {
  isError(await raw(port, "GET", "/v2/nothing"), 404);
  isError(await raw(port, "GET", "/v1/completions"), 404);
});
check("wrong or missing API key; /health needs none", async () => {
  isError(await post("/v1/completions", { prompt: "x" }, port, { Authorization: `Bearer ${key}x` }), 401);
  isError(await post("/v1/completions", { prompt: "x" }, port, {}), 401);
  isError(await raw(port, "GET", "/metrics", undefined, { Authorization: key }), 401);
  assert.equal((await raw(port, "GET", "/health", undefined, {})).status, 200);
});
check("a partial request times out (slowloris)", async () => {
  for (const part of ["POST /v1/completions HTTP/1.1\r\nHost: x\r\n",
                      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro"]) {
    const t0 = Date.now();
    await new Promise((resolve, reject) => {
      const s = net.connect(Number(port), "127.0.0.1", () => s.write(part));
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error("the server kept a stalled connection open"));
      }, 8000);
      const done = () => { clearTimeout(timer); resolve(); };
      s.on("data", () => {});
      s.on("error", done);
      s.on("close", done);
    });
    assert.ok(Date.now() - t0 < 8000);
  }
});
check("queue full: 503; a disconnected stream frees its slot", async () => {
  const metric = async (name) => {
    const r = await raw(smallPort, "GET", "/metrics");
    return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(r.text)[1]);
  };
  const before = await metric("tinyr2_generated_tokens_total");
  // A long stream holds the only slot; read its first chunk, then hang up.
  const s = net.connect(Number(smallPort), "127.0.0.1");
  const body = JSON.stringify({ prompt: "hello", max_tokens: 400, temperature: 0, stream: true });
  s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`);
  await new Promise((resolve) => s.once("data", resolve));
  isError(await post("/v1/completions", { prompt: "x", max_tokens: 1 }, smallPort), 503);
  s.destroy();
  let ok = null;
  for (let i = 0; i < 100 && !ok; i++) {
    const r = await post("/v1/completions", { prompt: "x", max_tokens: 1 }, smallPort);
    if (r.status === 200) ok = r; else await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(ok, "the slot was not freed");
  const generated = (await metric("tinyr2_generated_tokens_total")) - before;
  assert.ok(generated < 300, `the abandoned stream ran on: ${generated} tokens`);
});
check("still serving after all of it", async () => {
  assert.equal((await raw(port, "GET", "/health", undefined, {})).status, 200);
  const r = await post("/v1/completions", { prompt: "x", max_tokens: 2 });
  assert.equal(r.status, 200);
  assert.equal(r.json.usage.completion_tokens <= 2, true);
});

(async () => {
  for (const [name, fn] of checks) {
    try {
      const t0 = Date.now();
      await fn();
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      console.log(`FAIL ${name}\n${e.stack || e}`);
      process.exit(1);
    }
  }
})();
