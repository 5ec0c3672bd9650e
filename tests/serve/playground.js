// The playground page (SPEC §14 GET /) in a real browser: headless chromium driven by
// puppeteer-core types a prompt and settings, presses Generate, waits for the stream to end,
// and checks that the page shows exactly the text the API returns for the same seed; saves a
// screenshot. Run by tests/serve/test_serve.cpp:
//   node playground.js NPM_PREFIX PORT KEY SCREENSHOT.png
"use strict";
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const [prefix, port, key, shot] = process.argv.slice(2);
const puppeteer = require(path.join(prefix, "node_modules", "puppeteer-core"));
const base = `http://127.0.0.1:${port}`;

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tinyr2-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           `--user-data-dir=${profile}`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 620 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("requestfailed", (r) => { if (!r.url().startsWith(base)) errors.push("external: " + r.url()); });
    await page.goto(base + "/", { waitUntil: "load" });
    const settings = { prompt: "def fibonacci(n):", temperature: "0.8", top_k: "40", top_p: "0.95",
                       max_tokens: "40", seed: "3", api_key: key };
    for (const [id, value] of Object.entries(settings)) {
      await page.$eval(`#${id}`, (el) => { el.value = ""; });
      await page.type(`#${id}`, value);
    }
    await page.click("#generate");
    await page.waitForSelector("#stats[data-done]", { timeout: 60000 });
    const shown = await page.$eval("#generated", (el) => el.textContent);
    const stats = await page.$eval("#stats", (el) => el.textContent);
    await page.screenshot({ path: shot });

    const res = await fetch(base + "/v1/completions", {
      method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: settings.prompt, temperature: 0.8, top_k: 40, top_p: 0.95,
                             max_tokens: 40, seed: 3 }) });
    const api = (await res.json()).choices[0].text;
    assert.ok(shown.length > 0, "no text appeared");
    assert.equal(shown, api);
    assert.match(stats, /^done \((length|stop)\) .* tokens\/s$/);
    assert.deepEqual(errors, []);
    console.log(`ok   the page streamed the API's text (${shown.length} chars): ${stats}`);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((e) => {
  console.log(`FAIL playground\n${e.stack || e}`);
  process.exit(1);
});
