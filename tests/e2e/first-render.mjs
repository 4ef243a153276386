// Time to first render of a built page (docs/APP.md, "A smaller page"), in Chromium with WebGPU:
// from navigation start to the header's first contentful paint, and to the moment all eight cards
// are in the document (the page's wasm and the worker's wasm fetched, compiled and started, the
// adapter opened). The directory is served here on 127.0.0.1 with gzip, as a web server would
// send it; each run is a fresh browser context (an empty HTTP cache). Prints every run and the
// medians; with a rate, the network is throttled to it (and 40 ms of latency).
// Usage: node tests/e2e/first-render.mjs <built dist/> [runs=7] [megabits per second]
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { gzipSync } from "node:zlib";

const [dir, runs = "7", mbps] = process.argv.slice(2);
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  try {
    const body = await readFile(join(dir, path.endsWith("/") ? `${path}index.html` : path));
    const type = types[extname(path)] ?? (path.endsWith("/") ? "text/html" : "application/octet-stream");
    const gzip = type !== "application/octet-stream" && /gzip/.test(req.headers["accept-encoding"] ?? "");
    res.writeHead(200, { "content-type": type, ...(gzip ? { "content-encoding": "gzip" } : {}) });
    res.end(gzip ? gzipSync(body, { level: 6 }) : body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu"],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  if (mbps) {
    const cdp = await context.newCDPSession(page);
    const bytesPerSec = (Number(mbps) * 1e6) / 8;
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 40, downloadThroughput: bytesPerSec, uploadThroughput: bytesPerSec });
  }
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector("[data-testid=kept]")) { window.__cards = performance.now(); observer.disconnect(); }
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto(url);
  await page.waitForFunction(() => window.__cards, null, { timeout: 120_000 });
  const t = await page.evaluate(() => ({
    paint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
    cards: window.__cards,
    wasm: performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".wasm")).map((r) => [r.name.split("/").pop(), r.encodedBodySize]),
  }));
  times.push(t);
  console.log(`run ${i + 1}: first paint ${t.paint.toFixed(0)} ms, cards ${t.cards.toFixed(0)} ms; page's wasm ${t.wasm.map(([n, b]) => `${n} ${b} B`).join(", ")}`);
  await context.close();
}
await browser.close();
server.close();
console.log(`median of ${times.length}${mbps ? ` at ${mbps} Mbit/s and 40 ms` : ", unthrottled"}: first paint ${median(times.map((t) => t.paint)).toFixed(0)} ms, cards rendered ${median(times.map((t) => t.cards)).toFixed(0)} ms`);
