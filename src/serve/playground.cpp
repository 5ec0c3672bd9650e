#include "serve/playground.h"

namespace tinyr2::serve {

std::string_view playground_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tinyr2 playground</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f5f5f4; color: #1c1917; }
  main { max-width: 860px; margin: 0 auto; padding: 20px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  textarea { width: 100%; box-sizing: border-box; height: 110px; font: 14px ui-monospace, monospace;
             padding: 8px; border: 1px solid #a8a29e; border-radius: 6px; }
  .params { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; align-items: end; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #57534e; }
  input { width: 90px; padding: 4px 6px; border: 1px solid #a8a29e; border-radius: 4px; }
  button { padding: 7px 18px; border: 0; border-radius: 6px; background: #1d4ed8; color: white;
           font-weight: 600; cursor: pointer; }
  button:disabled { background: #93a3c4; cursor: default; }
  #output { white-space: pre-wrap; background: white; border: 1px solid #d6d3d1; border-radius: 6px;
            min-height: 160px; padding: 10px; font: 14px ui-monospace, monospace; }
  #output .prompt { color: #78716c; }
  #stats { font-size: 13px; color: #44403c; margin-top: 8px; min-height: 18px; }
</style>
</head>
<body>
<main>
  <h1>tinyr2 playground</h1>
  <textarea id="prompt" placeholder="Prompt">def fibonacci(n):</textarea>
  <div class="params">
    <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.8"></label>
    <label>top-k <input id="top_k" type="number" min="0" step="1" value="40"></label>
    <label>top-p <input id="top_p" type="number" min="0" max="1" step="0.05" value="0.95"></label>
    <label>max tokens <input id="max_tokens" type="number" min="1" step="1" value="64"></label>
    <label>seed <input id="seed" type="number" min="0" step="1" value="1"></label>
    <label>API key <input id="api_key" type="password" placeholder="(none)"></label>
    <button id="generate">Generate</button>
    <button id="stop" disabled>Stop</button>
  </div>
  <div id="output"></div>
  <div id="stats"></div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let controller = null;

function params() {
  const body = {
    prompt: $("prompt").value,
    temperature: Number($("temperature").value),
    top_k: Number($("top_k").value),
    top_p: Number($("top_p").value),
    max_tokens: Number($("max_tokens").value),
    stream: true,
  };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

async function generate() {
  const out = $("output"), stats = $("stats");
  out.textContent = "";
  const promptSpan = document.createElement("span");
  promptSpan.className = "prompt";
  promptSpan.textContent = $("prompt").value;
  const gen = document.createElement("span");
  gen.id = "generated";
  out.append(promptSpan, gen);
  stats.textContent = "";
  $("generate").disabled = true;
  $("stop").disabled = false;
  controller = new AbortController();
  const headers = { "Content-Type": "application/json" };
  if ($("api_key").value) headers.Authorization = "Bearer " + $("api_key").value;
  let tokens = 0, first = 0, finish = null;
  const t0 = performance.now();
  try {
    const res = await fetch("/v1/completions", { method: "POST", headers, body: JSON.stringify(params()),
                                                 signal: controller.signal });
    if (!res.ok) {
      const err = await res.json().catch(() => ({ error: { message: res.statusText } }));
      throw new Error(err.error ? err.error.message : res.statusText);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new Error(msg.error.message);
        const choice = msg.choices[0];
        if (choice.text) {
          if (!first) first = performance.now();
          gen.textContent += choice.text;
          tokens += 1;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
        const secs = (performance.now() - (first || t0)) / 1000;
        stats.textContent = `${tokens} chunks · ${secs > 0 ? (tokens / secs).toFixed(1) : "–"} tokens/s`;
      }
    }
    const secs = (performance.now() - t0) / 1000;
    stats.textContent = `done (${finish}) · ${tokens} chunks in ${secs.toFixed(2)} s · ` +
                        `${(tokens / Math.max(secs, 1e-3)).toFixed(1)} tokens/s`;
    stats.dataset.done = "1";
  } catch (e) {
    stats.textContent = e.name === "AbortError" ? "stopped" : "error: " + e.message;
    stats.dataset.done = "1";
  } finally {
    $("generate").disabled = false;
    $("stop").disabled = true;
  }
}

$("generate").addEventListener("click", () => { delete $("stats").dataset.done; generate(); });
$("stop").addEventListener("click", () => controller && controller.abort());
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace tinyr2::serve
