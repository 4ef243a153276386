// End-to-end test of the browser app in real Chromium with WebGPU (SwiftShader without a GPU).
// Usage: node tests/e2e/app.test.mjs <url of the served dist/> <cnnscope binary> <screenshot dir> <the served dist/>
// The server must also serve dist/data/corrupt/ (a broken copy of the dataset; scripts/e2e.sh).
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { a11y } from "./a11y.mjs";

const [url, cli, shots, dist] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const flags = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"];
const launch = (webgpu) =>
  chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: webgpu ? [...flags, "--enable-unsafe-webgpu"] : flags });
const step = (name) => console.log(`e2e: ${name}`);
// A safetensors file's tensors by name, as bytes (its header's key order is a hash map's).
const tensors = (file) => {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString("utf8"));
  const data = bytes.subarray(8 + length);
  return Object.fromEntries(Object.entries(header).filter(([k]) => k !== "__metadata__").sort()
    .map(([k, v]) => [k, data.subarray(v.data_offsets[0], v.data_offsets[1])]));
};

step("0 the page as it ships: the release build's wasm, each through npm's binaryen wasm-opt");
// A wasm module's custom sections by name. rustc's release build keeps a "name" section (the
// functions' names: 600 KB of the page's 2 MB); wasm-opt drops it unless asked to keep it, so a
// wasm file with one did not go through wasm-opt (scripts/e2e.sh builds with --release).
const customSections = (bytes) => {
  const names = [];
  const leb = (at) => { let value = 0, shift = 0, b; do { b = bytes[at++]; value += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return [value, at]; };
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at];
    const [size, body] = leb(at + 1);
    if (id === 0) { const [length, name] = leb(body); names.push(bytes.subarray(name, name + length).toString("utf8")); }
    at = body + size;
  }
  return names;
};
const wasmFiles = readdirSync(dist).filter((f) => f.endsWith(".wasm")).sort();
assert.equal(wasmFiles.length, 2, `the page's wasm and the worker's: ${wasmFiles}`);
for (const file of wasmFiles) {
  const bytes = readFileSync(`${dist}/${file}`);
  console.log(`e2e: ${file}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped; custom sections ${customSections(bytes).join(", ")}`);
  assert.ok(!customSections(bytes).includes("name"), `${file} went through wasm-opt (it still has rustc's name section)`);
}

const browser = await launch(true);
// Main-thread tasks over 50 ms (PerformanceObserver "longtask"), from page load on. The engine
// runs in a Web Worker, so once the page has rendered its cards the main thread must have none:
// not while the worker parses the dataset, builds pipelines, trains, runs feature maps or
// classifies the test set. The page's own start-up (HTML, compiling its wasm, the first render,
// 40–70 ms tasks at times on a 2-core machine with SwiftShader busy) is printed, not asserted.
const watchLongTasks = (p) => p.addInitScript(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push([Math.round(e.startTime), Math.round(e.duration)]); })
    .observe({ type: "longtask", buffered: true });
  new MutationObserver((_, observer) => {
    if (document.querySelector("[data-testid=kept]")) { window.__rendered = performance.now(); observer.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
});
const reportLongTasks = async (p, what) => {
  const { tasks, rendered, axeRuns } = await p.evaluate(() => ({ tasks: window.__longTasks ?? [], rendered: window.__rendered, axeRuns: window.__axeRuns ?? [] }));
  const startUp = tasks.filter(([start]) => start < rendered);
  // axe-core's own scans run on the page's thread: the test's instrument, not the page's work.
  const duringAxe = ([start, duration]) => axeRuns.some(([from, to]) => start < to && start + duration > from);
  const after = tasks.filter(([start]) => start >= rendered).filter((t) => !duringAxe(t));
  const longest = after.reduce((m, [, d]) => Math.max(m, d), 0);
  const axeTasks = tasks.filter(duringAxe);
  console.log(`e2e: long tasks: start-up (cards rendered at ${Math.round(rendered)} ms) ${JSON.stringify(startUp)}; ${what}: ${after.length} over 50 ms, longest ${longest} ms; during axe-core's checks (not counted) ${JSON.stringify(axeTasks)}`);
  return after;
};
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await watchLongTasks(page);
const errors = [];
// Every console line, the worker's included: wasm-bindgen's warnings are not errors, but the page
// must not log them either (trunk's loader shim made it log "using deprecated parameters for the
// initialization function" at every start).
const consoleLines = [];
page.on("console", (m) => {
  consoleLines.push(`${m.type()}: ${m.text()}`);
  if (m.type() === "error" && !m.text().includes("404")) errors.push(m.text());
});
page.on("pageerror", (e) => errors.push(e.message));
await page.goto(`${url}?device=gpu`);

step("1 start-up: the adapter and its limits");
await page.getByTestId("adapter").waitFor({ timeout: 60_000 });
assert.match(await page.getByTestId("adapter").innerText(), /largest buffer binding\s+\d+ MiB/);
// The adapter is named as the browser describes it (wgpu's WebGPU backend passes no name).
assert.match(await page.locator(".adapter-name").innerText(), /swiftshader/i);

step("2 data: the real Fashion-MNIST from the page's origin, with samples");
await page.getByTestId("data-ready").waitFor({ timeout: 180_000 });
assert.match(await page.getByTestId("data-ready").innerText(), /60000 training and 10000 test images of 28×28/);
assert.equal(await page.locator(".sample canvas").count(), 10);
assert.equal(await page.locator(".sample figcaption").first().innerText(), "T-shirt/top");
// axe-core, WCAG 2 A/AA and best practices: no violation with the adapter card (its software
// adapter's badge), the data card and the knobs on screen (tests/e2e/a11y.mjs).
await a11y.check(page, "the data loaded");

step("3 model: knobs, the layer table equals the engine's summary, impossible sides explained");
const field = (label) => page.locator("label", { hasText: label }).locator("input");
const set = async (label, value) => { await field(label).fill(String(value)); await field(label).dispatchEvent("change"); };
await page.getByTestId("net").selectOption("alexnet");
await set("width ÷", 16);
await set("side", 28);
assert.equal(await page.getByTestId("config-error").innerText(), "AlexNet: needs an input side of at least 67, got 28");
await set("side", 67);
await set("batch", 32);
await set("learning rate", 0.002);
const tableRows = await page.getByTestId("layer-table").locator("tbody tr").evaluateAll((rows) =>
  rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText.trim()).filter((t) => t).join(" ")));
const summary = execFileSync(cli, ["summary", "--net", "alexnet", "--ratio", "16", "--side", "67"], { encoding: "utf8" })
  .trim().split("\n").slice(2).map((line) => line.trim().split(/\s+/).join(" ").replace(/(\d) ([kMG])\b/g, "$1 $2"));
assert.deepEqual(tableRows, summary, "the page's layer table is `cnnscope summary`'s");

step("4 training: 80 steps, the loss falls, pause works");
// The knobs' kernels compile ahead while they are set, with their count shown; started once they
// are ready, the first step only trains. (Step 11 starts at once: its kernels compile first.)
await page.getByTestId("kernels-ahead").waitFor({ timeout: 120_000 });
const ahead = await page.getByTestId("kernels-ahead").innerText();
assert.match(ahead, /^(compiling this network's kernels ahead: \d+\/\d+ \(start now and the first step waits for the rest\)|kernels ready for these knobs: the first step starts at once)$/);
await page.waitForFunction(() => document.querySelector("[data-testid=kernels-ahead]")?.innerText.startsWith("kernels ready"), null, { timeout: 600_000 });
await page.getByTestId("start").click();
await page.getByTestId("first-step").waitFor({ timeout: 600_000 });
const firstStep = await page.getByTestId("first-step").innerText();
assert.match(firstStep, /^first step [\d.]+ s after start \(its kernels were compiled before start\)$/);
assert.equal(await page.getByTestId("kernels-ahead").count(), 0, "no word of compiling ahead while a run goes");
console.log(`e2e: AlexNet ÷16 at 67, batch 32 on SwiftShader, kernels compiled ahead (${ahead}): ${firstStep}`);
await page.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 80, null, { timeout: 600_000 });
await page.getByTestId("pause").click();
await page.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 60_000 });
// A pause keeps the run in the browser.
await page.waitForFunction(() => document.querySelector("[data-testid=saved]")?.innerText.startsWith("kept in this browser at step"), null, { timeout: 120_000 });
const losses = (await page.getByTestId("loss-values").textContent()).trim().split(" ").map(Number);
assert.ok(losses.length >= 16, `loss reported every 5 steps: ${losses}`);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
assert.ok(mean(losses.slice(-3)) < mean(losses.slice(0, 3)) - 0.05, `loss falls: ${losses}`);
assert.match(await page.getByTestId("progress-text").innerText(), /epoch 1\/1 · batch \d+\/1875 · [\d.]+ images\/s · ETA/);
// The curves in words and numbers, for screen readers: the loss's span, first, last, lowest and
// highest values, and its latest ten points as a table.
const lossWords = await page.getByTestId("loss").getAttribute("aria-label");
assert.match(lossWords, /^train loss: \d+ points from 5 to \d+ steps, first [\d.]+, last [\d.]+, lowest [\d.]+ at \d+, highest [\d.]+ at \d+$/);
assert.ok(Math.abs(Number(lossWords.match(/last ([\d.]+)/)[1]) - losses.at(-1)) < 0.0011, `the words say the curve's last value, ${losses.at(-1)}`);
assert.equal(await page.getByTestId("training").locator(".visually-hidden table").first().locator("tbody tr").count(), 10, "the loss's latest ten values as a table");
// Per-layer statistics every 20 steps: every layer with parameters, and nothing to warn about.
const statRows = await page.getByTestId("layer-stats").locator("tbody tr").evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText)));
assert.deepEqual(statRows.map((r) => r[0]), ["conv.0", "conv.3", "conv.6", "conv.8", "conv.10", "fc.0", "fc.3", "fc.6"]);
assert.ok(statRows.every((r) => r.slice(1, 3).every((v) => Number.isFinite(Number(v)))), `means and stds: ${statRows}`);
assert.equal(statRows[7][3], "—", "the last layer has no ReLU");
assert.equal(await page.getByTestId("layer-hint").count(), 0, "a healthy run has no hint");
// Where the second step's time went: every layer with parameters, forward and backward, the
// batch, the loss and the optimiser; and again on request.
const timeRows = async () => page.getByTestId("time-row").evaluateAll((rows) => rows.map((r) => r.querySelector(".time-name").innerText));
const timed = await timeRows();
for (const name of ["batch", "conv.0", "conv.10", "fc.6", "loss", "optimizer"]) assert.ok(timed.includes(name), `${name} is timed: ${timed}`);
assert.match(await page.getByTestId("time-chart").innerText(), /^Where step 2's \d+ ms went, layer by layer/);
// Asked for while paused: the first step after the pause is timed (checked in step 7).
await page.getByTestId("time-step").click();

step("5 inside: every layer's feature maps for a test image, and the prediction");
await page.getByTestId("refresh-maps").click();
await page.getByTestId("prediction").waitFor({ timeout: 120_000 });
const maps = await page.locator(".fmap-canvas").evaluateAll((canvases) => canvases.map((c) => {
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let lo = 255, hi = 0;
  for (let i = 0; i < data.length; i += 4) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
  return hi - lo;
}));
assert.ok(maps.length >= 10, `one canvas per layer: ${maps.length}`);
assert.ok(maps.filter((contrast) => contrast > 0).length >= maps.length - 2, `feature maps are not blank: ${maps}`);
assert.match(await page.getByTestId("prediction").innerText(), /Label: .+ — predicted: /);
// Why: saliency and Grad-CAM for the predicted class, then for a class clicked.
await page.waitForFunction(() => !document.body.innerText.includes("running the image through the network"), null, { timeout: 120_000 });
const predicted = (await page.getByTestId("prediction").innerText()).match(/predicted: ([^(\n]+) \(/)[1];
await page.waitForFunction((c) => document.querySelector("[data-testid=explanation]")?.dataset.class === c, predicted, { timeout: 120_000 });
const heat = async () => page.locator(".explain-canvas").evaluateAll((canvases) => canvases.map((c) => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > d[i + 1] + 40) red++;
  return red;
}));
assert.ok((await heat()).every((n) => n > 0), `saliency and Grad-CAM drawn over the image: ${await heat()}`);
const other = predicted === "Bag" ? "Sandal" : "Bag";
await page.locator(`.prob[data-class="${other}"]`).click();
await page.waitForFunction((c) => document.querySelector("[data-testid=explanation]")?.dataset.class === c, other, { timeout: 120_000 });
assert.match(await page.getByTestId("explanation").innerText(), new RegExp(`Why “${other}”`));

step("5b inside: a drawing and a picked picture are classified too");
const pad = await page.getByTestId("drawing-pad").boundingBox();
await page.mouse.move(pad.x + 30, pad.y + 20);
await page.mouse.down();
for (const [x, y] of [[110, 20], [110, 120], [30, 120], [30, 20]]) await page.mouse.move(pad.x + x, pad.y + y, { steps: 8 });
await page.mouse.up();
await page.waitForFunction(() => document.querySelector("[data-testid=prediction]")?.innerText.startsWith("Your image — predicted: "), null, { timeout: 120_000 });
const picture = `${shots}/picture.png`;
await page.locator(".sample canvas").nth(7).screenshot({ path: picture }); // a sneaker, dark on light
await page.getByTestId("refresh-maps").click();
await page.waitForFunction(() => document.querySelector("[data-testid=prediction]")?.innerText.startsWith("Label: "), null, { timeout: 120_000 });
await page.locator(".drawing input[type=file]").setInputFiles(picture);
await page.waitForFunction(() => document.querySelector("[data-testid=prediction]")?.innerText.startsWith("Your image — predicted: "), null, { timeout: 120_000 });

step("7 weights: a download loads back exactly; a broken file is refused and the model kept");
const prediction = async () => {
  await page.getByTestId("refresh-maps").click();
  await page.waitForFunction(() => !document.body.innerText.includes("running the image through the network"), null, { timeout: 120_000 });
  return page.getByTestId("prediction").innerText();
};
const trained = await prediction();
const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-weights").click()]);
assert.match(download.suggestedFilename(), /^cnnscope-alexnet-r16-s67\.safetensors$/);
const weights = `${shots}/weights.safetensors`;
await download.saveAs(weights);
// The same model as ONNX, written in the page: onnxruntime classifies the first 1,000 test images
// as the CLI does from the downloaded weights, image for image (tests/onnx/check.py).
const [onnxDownload] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-onnx").click()]);
assert.equal(onnxDownload.suggestedFilename(), "cnnscope-alexnet-r16-s67.onnx");
const onnxModel = `${shots}/page.onnx`;
await onnxDownload.saveAs(onnxModel);
execFileSync(cli, ["eval", "--weights", weights, "--limit", "1000", "--predictions", `${shots}/page-predictions.txt`], { stdio: "ignore" });
// The PyTorch half's Python (scripts/pytorch_python.sh's choice): $PYTHON, else the checkout's venv.
const python = process.env.PYTHON ?? fileURLToPath(new URL("../../target/pytorch-venv/bin/python", import.meta.url));
const checked = execFileSync(python, ["tests/onnx/check.py", onnxModel, "--data", "public/data/fashion-mnist", "--predictions", `${shots}/page-predictions.txt`, "--count", "1000", "--min-classes", "2"], { encoding: "utf8" });
assert.match(checked, /1000 predictions agree/);
console.log(`e2e: the page's ONNX model in onnxruntime: ${checked.trim()}`);
const steps = async () => Number(await page.getByTestId("progress-text").getAttribute("data-steps"));
const pausedAt = await steps();
await page.getByTestId("pause").click(); // resume: the model moves on
await page.waitForFunction((n) => Number(document.querySelector("[data-testid=progress-text]").dataset.steps) >= n + 10, pausedAt, { timeout: 300_000 });
await page.getByTestId("pause").click();
await page.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 60_000 });
assert.notEqual(await prediction(), trained, "ten more steps change the prediction");
const retimed = (await page.getByTestId("time-chart").innerText()).split("\n")[0];
assert.ok(Number(retimed.match(/^Where step (\d+)'s/)[1]) > pausedAt, `the first step after the pause was timed: ${retimed}`);
console.log(`e2e: ${retimed}`);
await page.getByTestId("upload-weights").setInputFiles(weights);
await page.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.startsWith("loaded"), null, { timeout: 60_000 });
assert.equal(await prediction(), trained, "the uploaded file restores the downloaded model exactly");
const broken = `${shots}/broken.safetensors`;
writeFileSync(broken, "this is not a weights file");
await page.getByTestId("upload-weights").setInputFiles(broken);
await page.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.includes("not a valid safetensors file"), null, { timeout: 60_000 });
assert.match(await page.getByTestId("weights-message").innerText(), /^weights file: broken\.safetensors: not a valid safetensors file .*the current model is unchanged$/);
assert.equal(await prediction(), trained, "a refused file changes nothing");

step("6 results: confusion matrix over all 10,000 test images, per-class accuracy, mistakes");
await page.getByTestId("evaluate").click();
await page.getByTestId("confusion").waitFor({ timeout: 600_000 });
const cells = await page.getByTestId("confusion").locator("tbody tr").evaluateAll((rows) =>
  rows.map((r) => [...r.querySelectorAll("td")].slice(0, 10).map((td) => Number(td.innerText))));
assert.equal(cells.length, 10);
assert.equal(cells.flat().reduce((a, b) => a + b, 0), 10000, "every test image counted once");
cells.forEach((row) => assert.equal(row.reduce((a, b) => a + b, 0), 1000, "1,000 test images per class"));
const right = cells.reduce((sum, row, i) => sum + row[i], 0);
assert.ok(right > 2000, `well above chance after 100 steps: ${right}`);
assert.match(await page.getByTestId("test-accuracy").innerText(), new RegExp(`\\(${right} of 10000 images\\)`));
assert.ok(await page.getByTestId("mistakes").locator("canvas").count() > 0);

step("8 compare: the four nets' parameters and FLOPs");
const compare = await page.getByTestId("compare-table").locator("tbody tr").allInnerTexts();
assert.equal(compare.length, 4);
assert.match(compare[3], /GoogLeNet/);
const longTasks = await reportLongTasks(page, "then data, start, 100 steps, feature maps, weights, results");
// The page's own work stays well under 50 ms per task; on a 2-core machine whose other core runs
// SwiftShader, a 20–30 ms task is now and then stretched past 50 (docs/APP.md): one such task is
// allowed, none over 100 ms (before the worker, dataset parsing alone took 324–535 ms).
assert.ok(longTasks.length <= 1 && longTasks.every(([, d]) => d < 100), `no main-thread task over 50 ms but for one stretched one under 100 ms: ${JSON.stringify(longTasks)}`);
// The observer does see a long task when the page has one (a test that cannot fail is no test;
// a task run by the test's own evaluate is not counted, so the page's timer runs it).
const seen = await page.evaluate(() => window.__longTasks.length);
await page.evaluate(() => setTimeout(() => { const t = performance.now(); while (performance.now() - t < 120); }, 0));
await page.waitForFunction((n) => window.__longTasks.length > n, seen, { timeout: 10_000 });
// axe again with everything training made: curves, per-layer statistics and times, feature maps,
// an explanation, the confusion matrix and its mistakes, the comparison.
await a11y.check(page, "after training: charts, feature maps, results");
// Every canvas says in words what it draws, with the numbers (the charts' curves, each feature
// map's range and strongest channels, the explanation's peak).
const canvasWords = await page.locator("canvas").evaluateAll((cs) => cs.map((c) => [c.dataset.testid ?? c.className, c.getAttribute("role"), c.getAttribute("aria-label") ?? ""]));
for (const [what, role, words] of canvasWords) assert.ok(role === "img" && words.length > 10, `${what}: a text alternative (${role}, “${words}”)`);
assert.match(await page.locator(".fmap-canvas").first().getAttribute("aria-label"), /^input \(input, 1×67×67\): 1 of 1 channels drawn as 67×67 grey images/);
assert.match(await page.locator(".fmap-canvas").nth(1).getAttribute("aria-label"), /^conv\.0 \(Conv2d, \d+×\d+×\d+\): \d+ of \d+ channels drawn as \d+×\d+ grey images, from black -?[\d.]+ to white -?[\d.]+; strongest channels \d+ \(mean/);
await page.screenshot({ path: `${shots}/app.png`, fullPage: true });
assert.deepEqual(errors, [], "no errors in the console");
assert.deepEqual(consoleLines.filter((l) => /deprecated/i.test(l)), [], "no deprecation warnings in the console");

step("4b a whole run: two epochs on 320 images (?limit=320): epoch lines, test curve, comparison");
// A context of its own: step 4f opens a second tab in it (same storage, same Web Locks).
const quickContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
const quick = await quickContext.newPage();
await quick.goto(`${url}?device=gpu&limit=320`);
await quick.getByTestId("data-ready").waitFor({ timeout: 180_000 });
assert.match(await quick.getByTestId("data-ready").innerText(), /^320 training and 320 test images/);
const quickField = (label) => quick.locator("label", { hasText: label }).locator("input");
for (const [label, value] of [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 2]]) {
  await quickField(label).fill(String(value));
  await quickField(label).dispatchEvent("change");
}
await quick.getByTestId("start").click();
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
const lines = (await quick.getByTestId("epoch-lines").innerText()).split("\n");
assert.equal(lines.length, 2);
assert.match(lines[1], /^epoch 2, loss [\d.]+, train acc [\d.]+, test acc [\d.]+, time [\d.]+ sec, [\d.]+ images\/s$/);
const alexnet = (await quick.getByTestId("compare-table").locator("tbody tr").first().innerText()).split("\t");
assert.equal(alexnet[0], "AlexNet");
assert.match(alexnet[4], /^[\d.]+$/, `images/s of the run: ${alexnet}`);
assert.equal(alexnet[5], lines[1].match(/test acc ([\d.]+)/)[1], "the comparison shows the run's test accuracy");
const finalAccuracy = lines[1].match(/test acc ([\d.]+)/)[1].replace(".", "\\.");
assert.match(await quick.getByTestId("accuracy-flops").getAttribute("data-dots"),
  new RegExp(`^AlexNet ÷16 \\(88\\.02k params\\): 9240\\d\\d FLOPs, accuracy ${finalAccuracy}$`), "the finished run is a dot at its FLOPs and accuracy");
await quick.screenshot({ path: `${shots}/two-epochs.png`, fullPage: true });
const quickLosses = async () => (await quick.getByTestId("loss-values").textContent()).trim().split(" ").map(Number);
const scratchLosses = await quickLosses();

step("4c start while running: the new run alone writes the page");
await quick.getByTestId("start").click();
await quick.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 3, null, { timeout: 300_000 });
await quick.getByTestId("start").click(); // "restart" while the first run trains
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
await quick.waitForTimeout(2000); // time for a stray write of the old run to land
assert.equal((await quick.getByTestId("epoch-lines").innerText()).split("\n").length, 2, "two epoch lines, the new run's");
assert.equal((await quickLosses()).length, 4, "10 steps an epoch, a loss every 5: only the new run's four");
assert.equal(await quick.getByTestId("status").innerText(), "finished");

step("4d upload, then continue training the loaded weights");
const [saved] = await Promise.all([quick.waitForEvent("download"), quick.getByTestId("download-weights").click()]);
const savedPath = `${shots}/quick.safetensors`;
await saved.saveAs(savedPath);
await quickField("epochs").fill("1");
await quickField("epochs").dispatchEvent("change");
await quick.getByTestId("upload-weights").setInputFiles(savedPath);
await quick.getByTestId("continue").waitFor({ timeout: 60_000 });
assert.equal(await quick.getByTestId("start").innerText(), "new run from scratch");
await quick.getByTestId("continue").click();
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
const continued = await quickLosses();
assert.ok(continued[0] < scratchLosses[0] - 0.02, `the loaded weights train on (first loss ${continued[0]}), not from scratch (${scratchLosses[0]})`);

step("4d2 a run replaced mid-epoch is kept first, and the page says under which name");
// Batch 16: 20 steps an epoch. The run is kept at a readback every 10 s at most (the first comes
// after its kernels compiled, at step 5) and at the epoch's end, so at step 10 it has steps that
// no keep holds yet.
for (const [label, value] of [["epochs", 30], ["batch", 16]]) {
  await quickField(label).fill(String(value));
  await quickField(label).dispatchEvent("change");
}
await quick.getByTestId("start").click();
await quick.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 10, null, { timeout: 300_000 });
await quick.getByTestId("start").click();
await quick.getByText(/the previous run was kept in this browser as \S+-alexnet/).waitFor({ timeout: 120_000 });
await quick.getByTestId("stop").click();
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "idle", null, { timeout: 60_000 });
await quickField("batch").fill("32");
await quickField("batch").dispatchEvent("change");

step("4f a run kept in the browser survives a reload and resumes exactly where it stopped");
for (const [label, value] of [["learning rate", 0.002], ["epochs", 2]]) {
  await quickField(label).fill(String(value));
  await quickField(label).dispatchEvent("change");
}
const finished = () => quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
const downloadTo = async (testId, file) => {
  const [d] = await Promise.all([quick.waitForEvent("download"), quick.getByTestId(testId).click()]);
  await d.saveAs(file);
  return file;
};
await quick.getByTestId("start").click();
await finished();
const reference = await quick.getByTestId("loss-values").textContent();
const referenceWeights = tensors(await downloadTo("download-weights", `${shots}/reference.safetensors`));
await quick.getByTestId("start").click();
// Past epoch 1 (step 10), whose end took per-layer statistics: they come back with the run.
await quick.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 12, null, { timeout: 300_000 });
await quick.getByTestId("pause").click();
await quick.waitForFunction(() => document.querySelector("[data-testid=saved]")?.innerText.startsWith("kept in this browser at step"), null, { timeout: 120_000 });
const keptAt = await quick.getByTestId("saved").innerText();
const keptStats = await quick.getByTestId("layer-stats").innerText();
await quick.reload();
await quick.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await quick.getByTestId("saved-runs").waitFor({ timeout: 120_000 });
assert.match(await quick.getByTestId("saved-run").first().innerText(), /AlexNet · width ÷16 · input 67×67\tepoch [12] of 2 · step \d+/);
await quick.getByTestId("open-run").first().click();
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 120_000 });
const keptStep = keptAt.match(/at step (\d+)$/)[1];
assert.match(await quick.getByTestId("weights-message").innerText(), new RegExp(`paused at step ${keptStep}: `), "opened where it was kept");
assert.equal(await quick.getByTestId("layer-stats").innerText(), keptStats, "the per-layer statistics come back with the run");
// One tab owns a run: another tab of the same browser that opens it is told where it is open.
const second = await quickContext.newPage();
await second.goto(`${url}?device=gpu&limit=320`);
await second.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await second.getByTestId("saved-runs").waitFor({ timeout: 120_000 });
assert.equal(await second.getByTestId("saved-run").first().innerText(), await quick.getByTestId("saved-run").first().innerText(), "the same kept run, first in both lists");
await second.getByTestId("open-run").first().click();
await second.getByText(/^the run \S+ is open in another tab: download its checkpoint there and open the file here to work on a copy$/).waitFor({ timeout: 60_000 });
await second.close();
await quick.getByTestId("pause").click(); // resume
await finished();
assert.equal(await quick.getByTestId("loss-values").textContent(), reference, "the same losses as the run that never stopped");
const resumedWeights = tensors(await downloadTo("download-weights", `${shots}/resumed.safetensors`));
assert.deepEqual(Object.keys(resumedWeights), Object.keys(referenceWeights));
for (const name of Object.keys(referenceWeights)) assert.ok(resumedWeights[name].equals(referenceWeights[name]), `${name}: bit for bit`);
await quick.screenshot({ path: `${shots}/kept-runs.png`, fullPage: true });

step("4h a lost GPU device, mid-run, while paused or after the run: a new one, the run reopened as kept, finished with the same losses");
await quick.getByTestId("start").click();
// Kept after epoch 1 (step 10); lose the device a few steps later.
await quick.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 13, null, { timeout: 300_000 });
await quick.evaluate(() => window.wasmBindings.lose_device_test());
await quick.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.startsWith("The GPU device was lost (destroyed"), null, { timeout: 300_000 });
assert.match(await quick.getByTestId("weights-message").innerText(), /A new device is open and the run is back as kept, paused at step 10: “resume” continues it$/);
assert.equal(await quick.getByTestId("status").innerText(), "paused");
assert.equal(await quick.getByTestId("loss-values").textContent(), reference.trim().split(" ").slice(0, 2).join(" "), "the curves up to the kept step");
// Lost again while paused (the run as reopened): its loop notices at once, not at "resume".
await quick.evaluate(() => {
  const status = document.querySelector("[data-testid=status]");
  window.__statuses = [];
  new MutationObserver(() => window.__statuses.push(status.innerText)).observe(status, { childList: true, subtree: true, characterData: true });
});
await quick.evaluate(() => window.wasmBindings.lose_device_test());
await quick.waitForFunction(() => window.__statuses.some((s) => s.startsWith("the GPU device was lost (destroyed"))
  && document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 120_000 })
  .catch(async (e) => { throw new Error(`${e.message}; statuses ${await quick.evaluate(() => JSON.stringify(window.__statuses))}`); });
assert.match(await quick.getByTestId("weights-message").innerText(), /A new device is open and the run is back as kept, paused at step 10: “resume” continues it$/);
await quick.getByTestId("pause").click(); // resume
await finished();
assert.equal(await quick.getByTestId("loss-values").textContent(), reference, "the same losses as the run that kept its device");
// Lost again with no loop to notice (the run is finished, as a laptop's sleep after a run finds
// it): the next click opens a new device and the run as kept, then goes on.
const before = await quick.getByTestId("weights-message").innerText();
await quick.evaluate(() => window.wasmBindings.lose_device_test());
await quick.getByTestId("refresh-maps").click();
await quick.waitForFunction((b) => document.querySelector("[data-testid=weights-message]")?.innerText !== b, before, { timeout: 300_000 });
assert.match(await quick.getByTestId("weights-message").innerText(), /A new device is open and the run is back as kept, finished at step 20: “resume” trains it one epoch more$/);
await quick.getByTestId("prediction").waitFor({ timeout: 120_000 });
assert.equal(await quick.getByTestId("status").innerText(), "paused");
assert.equal(await quick.getByTestId("loss-values").textContent(), reference, "the curves as kept");

step("4g checkpoints move between the page and the CLI");
const pageCheckpoint = await downloadTo("download-checkpoint", `${shots}/page.ckpt`);
const fromPage = execFileSync(cli, ["train", "--net", "alexnet", "--limit", "320", "--resume", pageCheckpoint, "--epochs", "3"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
assert.match(fromPage, /^epoch 3, loss [\d.]+/, "the CLI continues the page's run with its third epoch");
const cliCheckpoint = `${shots}/cli.ckpt`;
execFileSync(cli, ["train", "--net", "alexnet", "--ratio", "16", "--side", "67", "--batch", "32", "--limit", "320", "--epochs", "1", "--checkpoint", cliCheckpoint], { stdio: "ignore" });
await quick.getByTestId("upload-weights").setInputFiles(cliCheckpoint);
await quick.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.startsWith("opened the run in cli.ckpt, finished at step 10: “resume” trains it one epoch more"), null, { timeout: 120_000 });
assert.equal(await quick.getByTestId("status").innerText(), "paused");
await quickField("learning rate").fill("0.0005");
await quickField("learning rate").dispatchEvent("change");
await quick.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText === "the run resumes with learning rate 0.0005", null, { timeout: 60_000 });
const listed = await quick.getByTestId("saved-run").count();
await quick.getByTestId("delete-run").first().click();
await quick.waitForFunction((n) => document.querySelectorAll("[data-testid=saved-run]").length === n - 1, listed, { timeout: 60_000 });
// "Keep the last 1 run": the older ones go at once, but never the run on screen (open in this tab).
assert.ok(listed - 1 > 2, `runs enough to prune (${listed - 1})`);
await quick.getByTestId("keep-last").fill("1");
await quick.getByTestId("keep-last").dispatchEvent("change");
await quick.waitForFunction(() => document.querySelector("[data-testid=saved-message]")?.innerText.startsWith("deleted "), null, { timeout: 60_000 });
// The list follows once the deletions are done.
await quick.waitForFunction(() => document.querySelectorAll("[data-testid=saved-run]").length <= 2, null, { timeout: 60_000 })
  .catch(async (e) => { throw new Error(`${e.message}: ${await quick.getByTestId("saved-runs").innerText()} / ${await quick.getByTestId("saved-message").innerText()}`); });
const left = await quick.getByTestId("saved-run").count();
assert.ok(left >= 1 && left <= 2, `the newest run and the one on screen stay (${left})`);
assert.equal(await quick.getByTestId("saved-total").innerText().then((t) => Number(t.split(" ")[0])), left);
await quick.getByTestId("keep-last").fill("");
await quick.getByTestId("keep-last").dispatchEvent("change");

step("4e bad input: knobs say what they cannot use; a diverging run stops with the step, loss and rate");
await quick.getByTestId("stop").click(); // the paused run from the CLI: the knobs open again
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "idle", null, { timeout: 60_000 });
await quickField("batch").fill("abc");
await quickField("batch").dispatchEvent("change");
assert.equal(await quick.getByTestId("knob-error").innerText(), "«abc» is not a whole number from 1 to 1000000");
await quickField("batch").fill("32");
await quickField("batch").dispatchEvent("change");
assert.equal(await quick.getByTestId("knob-error").count(), 0);
await quickField("learning rate").fill("1e9");
await quickField("learning rate").dispatchEvent("change");
await quick.getByTestId("start").click();
await quick.waitForFunction(() => document.querySelector("[data-testid=status]").innerText.startsWith("failed"), null, { timeout: 300_000 });
assert.match(await quick.getByTestId("status").innerText(), /^failed: training diverged at step \d+: the loss is [^ ]+ \(learning rate 1000000000\); .*Lower the learning rate \(try 100000000\)/);
const notPicture = `${shots}/not-a-picture.png`;
writeFileSync(notPicture, "this is text, not a PNG");
await quick.locator(".drawing input[type=file]").setInputFiles(notPicture);
const pictureError = quick.getByText("not-a-picture.png: this browser cannot decode it as a picture");
await pictureError.waitFor({ timeout: 60_000 });
const badInput = readFileSync(new URL("../../docs/BAD_INPUT.md", import.meta.url), "utf8");
const row = `| a file that is not a picture (app) | ${(await pictureError.innerText()).replace("not-a-picture.png", "NAME")} |`;
assert.ok(badInput.includes(row), `docs/BAD_INPUT.md's table lacks the row\n${row}`);
const svg = (side) => `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><rect width="100%" height="100%" fill="white"/></svg>`;
writeFileSync(`${shots}/big.svg`, svg(20000));
await quick.locator(".drawing input[type=file]").setInputFiles(`${shots}/big.svg`);
const bigError = quick.getByText("big.svg: the picture is 20000×20000");
await bigError.waitFor({ timeout: 60_000 });
const bigRow = `| a picture above 64 megapixels (app) | ${(await bigError.innerText()).replace("big.svg", "NAME")} |`;
assert.ok(badInput.includes(bigRow), `docs/BAD_INPUT.md's table lacks the row\n${bigRow}`);
writeFileSync(`${shots}/dot.svg`, svg(1));
await quick.locator(".drawing input[type=file]").setInputFiles(`${shots}/dot.svg`);
await quick.waitForFunction(() => document.querySelector("[data-testid=prediction]")?.innerText.startsWith("Your image — predicted: "), null, { timeout: 120_000 });
await quick.screenshot({ path: `${shots}/bad-input.png`, fullPage: true });
await quickContext.close();

step("9 a phone: one column at 390 px, no sideways scrolling, training and drawing by touch");
const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
const phone = await phoneContext.newPage();
await phone.goto(`${url}?device=gpu&limit=320&augment=true`); // trains with augmentation in the browser
await phone.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await phone.getByTestId("kept").waitFor({ timeout: 60_000 });
const phoneField = (label) => phone.locator("label", { hasText: label }).locator("input");
for (const [label, value] of [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 3]]) {
  await phoneField(label).tap();
  await phoneField(label).fill(String(value));
  await phoneField(label).dispatchEvent("change");
}
const pageWidth = await phone.evaluate(() => document.documentElement.scrollWidth);
assert.ok(pageWidth <= 390, `the page fits 390 px (no sideways scrolling): ${pageWidth} px`);
const startBox = await phone.getByTestId("start").boundingBox();
assert.ok(startBox.height >= 44, `buttons a finger can hit: ${startBox.height} px`);
await phone.getByTestId("start").tap();
await phone.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 5, null, { timeout: 300_000 });
await phone.getByTestId("pause").tap();
await phone.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 60_000 });
const phonePad = phone.getByTestId("drawing-pad");
await phonePad.scrollIntoViewIfNeeded();
const padBox = await phonePad.boundingBox();
for (const [type, x, y] of [["pointerdown", 40, 30], ["pointermove", 120, 30], ["pointermove", 120, 150], ["pointermove", 40, 150], ["pointerup", 40, 150]]) {
  await phonePad.dispatchEvent(type, { pointerType: "touch", isPrimary: true, clientX: padBox.x + x, clientY: padBox.y + y, bubbles: true });
}
await phone.waitForFunction(() => document.querySelector("[data-testid=prediction]")?.innerText.startsWith("Your image — predicted: "), null, { timeout: 120_000 });
assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth) <= 390, "still 390 px wide with feature maps and curves");
await a11y.check(phone, "a phone, 390 px, with curves, feature maps and a drawing classified");
await phone.screenshot({ path: `${shots}/phone.png`, fullPage: true });
await phoneContext.close();

step("10 a link: the setup lives in the address; a weights file opens from the site");
const linked = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await linked.goto(`${url}?device=gpu&limit=320&net=nin&ratio=8&side=96&batch=16&lr=0.01&optimizer=sgd&epochs=3&seed=5&augment=true`);
await linked.getByTestId("kept").waitFor({ timeout: 120_000 });
const linkedField = (label) => linked.locator("label", { hasText: label }).locator("input");
assert.equal(await linked.getByTestId("net").inputValue(), "nin");
assert.ok(await linked.getByTestId("augment").isChecked(), "augmentation from the address");
for (const [label, value] of [["width ÷", "8"], ["side", "96"], ["batch", "16"], ["learning rate", "0.01"], ["epochs", "3"], ["seed", "5"]]) {
  assert.equal(await linkedField(label).inputValue(), value, `${label} from the address`);
}
await linkedField("side").fill("100");
await linkedField("side").dispatchEvent("change");
await linked.waitForFunction(() => new URL(location.href).searchParams.get("side") === "100", null, { timeout: 10_000 });
assert.equal(new URL(linked.url()).searchParams.get("limit"), "320", "other parameters stay");
assert.match(await linked.getByTestId("share-link").getAttribute("href"), /[?&]side=100&/);
mkdirSync(`${dist}/e2e`, { recursive: true });
copyFileSync(savedPath, `${dist}/e2e/quick.safetensors`);
await linked.goto(`${url}?device=gpu&limit=320&weights=e2e/quick.safetensors`);
await linked.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.startsWith("loaded quick.safetensors into AlexNet"), null, { timeout: 120_000 });
await linked.getByTestId("continue").waitFor({ timeout: 10_000 });
assert.equal(await linked.getByTestId("net").inputValue(), "alexnet", "the file's network sets the knobs");
await linked.goto(`${url}?device=gpu&limit=320&side=5000`);
await linked.getByTestId("link-error").waitFor({ timeout: 120_000 });
assert.equal(await linked.getByTestId("link-error").innerText(), "the address asks for side=5000: «5000» is not a whole number from 1 to 1024");
await linked.close();

step("11 a net that dies: NiN at Adam 0.05, and the statistics name the layer");
const dying = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await dying.goto(`${url}?device=gpu&limit=320&net=nin&ratio=16&side=67&batch=32&lr=0.05&epochs=1`);
await dying.getByTestId("kept").waitFor({ timeout: 120_000 });
await dying.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await dying.getByTestId("start").click();
// Started at once, before its kernels could compile ahead: they compile first, counted, then the
// time to the first step.
await dying.getByTestId("preparing").waitFor({ timeout: 120_000 });
assert.match(await dying.getByTestId("preparing").innerText(), /^preparing kernels \d+\/\d+/);
await dying.getByTestId("first-step").waitFor({ timeout: 600_000 });
const coldStep = await dying.getByTestId("first-step").innerText();
assert.match(coldStep, /^first step [\d.]+ s after start \((\d+) kernels compiled for it\)$/);
console.log(`e2e: NiN ÷16 at 67, started at once: ${coldStep}`);
await dying.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
const hint = await dying.getByTestId("layer-hint").first().innerText();
assert.match(hint, /^layer [\d.]+'s ReLUs are off for every image: nothing before it learns/);
const deadLayer = hint.match(/^layer ([\d.]+)'s/)[1];
const dyingRows = await dying.getByTestId("layer-stats").locator("tbody tr").evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText)));
const deadRow = dyingRows.find((r) => r[0] === deadLayer);
assert.equal(deadRow[3], "100.0%", `the named layer is 100 % dead: ${deadRow}`);
await dying.getByTestId("training").screenshot({ path: `${shots}/layer-stats.png` });
await dying.close();

step("12 your own network: a design edited in place, its mistake at its line, trained, looked inside and saved");
const own = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
const ownErrors = [];
own.on("pageerror", (e) => ownErrors.push(e.message));
await own.goto(`${url}?device=gpu&limit=320&net=alexnet&ratio=16&side=67`);
await own.getByTestId("kept").waitFor({ timeout: 120_000 });
const ownTable = () => own.getByTestId("layer-table").locator("tbody tr").evaluateAll((rows) =>
  rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText.trim()).filter((t) => t).join(" ")));
const alexnetTable = await ownTable();
// "Own network" opens the net as its preset design: the same layer table, knobs kept.
await own.getByTestId("net").selectOption("own");
await own.getByTestId("design-text").waitFor({ timeout: 10_000 });
assert.match(await own.getByTestId("design-text").inputValue(), /^# AlexNet/);
assert.deepEqual((await ownTable()).slice(1), alexnetTable.slice(1), "AlexNet's preset is AlexNet");
// A mistake is shown at its line, with the line, as it is typed.
const design = ["# a small net of my own", "features: {", "  conv 32 k=5 p=2", "  relu", "  avgpool k=2", "  conv 64 k=3", "  relu", "  maxpool k=2", "}", "flatten", "linear 64", "relu", "linear 10"];
const brokenDesign = [...design.slice(0, 9), "flatten", "conv 8 k=3", ...design.slice(10)];
await own.getByTestId("design-text").fill(brokenDesign.join("\n"));
await own.getByTestId("design-error").waitFor({ timeout: 10_000 });
assert.equal(await own.getByTestId("design-error").innerText(), "line 11 conv 8 k=3 conv: needs an image input, but 900 flat features reach it");
assert.equal(await own.getByTestId("design-text").getAttribute("aria-invalid"), "true");
// The table keeps the modules before the mistake.
await own.getByTestId("fitting").waitFor({ timeout: 10_000 });
const fitting = (await ownTable()).map((row) => row.split(" ").slice(0, 2).join(" "));
assert.deepEqual(fitting.slice(1, -1), ["features Sequential", "features.0 Conv2d", "features.1 ReLU", "features.2 AvgPool2d",
  "features.3 Conv2d", "features.4 ReLU", "features.5 MaxPool2d", "1 Flatten"], `the modules before line 11: ${fitting}`);
assert.equal(await own.getByTestId("start").isDisabled(), true, "a design with a mistake cannot start");
await own.getByTestId("design-text").fill(design.join("\n"));
await own.getByTestId("design-error").waitFor({ state: "detached", timeout: 10_000 });
const ownField = (label) => own.locator("label", { hasText: label }).locator("input");
for (const [label, value] of [["width ÷", 2], ["side", 28], ["batch", 32]]) {
  await ownField(label).fill(String(value));
  await ownField(label).dispatchEvent("change");
}
writeFileSync(`${shots}/own.net`, design.join("\n"));
const ownSummary = execFileSync(cli, ["summary", "--net", `${shots}/own.net`, "--ratio", "2", "--side", "28"], { encoding: "utf8" })
  .trim().split("\n").slice(2).map((line) => line.trim().split(/\s+/).join(" ").replace(/(\d) ([kMG])\b/g, "$1 $2"));
assert.deepEqual(await ownTable(), ownSummary, "the own network's layer table is `cnnscope summary --net own.net`'s");
// The design lives in the address.
await own.waitForFunction((d) => new URL(location.href).searchParams.get("design") === d, design.join("\n"), { timeout: 10_000 });
const ownLink = own.url();
// Trained like the four: an epoch of 320 images, statistics, feature maps, explanations.
await own.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await own.getByTestId("start").click();
await own.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 600_000 });
const ownStats = await own.getByTestId("layer-stats").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.querySelector("td").innerText));
assert.deepEqual(ownStats, ["features.0", "features.3", "2", "4"]);
await own.getByTestId("refresh-maps").click();
await own.getByTestId("prediction").waitFor({ timeout: 120_000 });
await own.waitForFunction(() => document.querySelector("[data-testid=explanation]")?.dataset.class, null, { timeout: 120_000 });
assert.ok(await own.locator(".fmap-canvas").count() >= 8, "a canvas per layer of the own network");
const [ownDownload] = await Promise.all([own.waitForEvent("download"), own.getByTestId("download-weights").click()]);
assert.equal(ownDownload.suggestedFilename(), "cnnscope-own-r2-s28.safetensors");
const ownWeights = `${shots}/own.safetensors`;
await ownDownload.saveAs(ownWeights);
const ownBytes = readFileSync(ownWeights);
const ownHeader = JSON.parse(ownBytes.subarray(8, 8 + Number(ownBytes.readBigUInt64LE(0))).toString("utf8"));
assert.equal(ownHeader.__metadata__.design, design.join("\n"), "the weights file carries the design");
assert.deepEqual(Object.keys(tensors(ownWeights)), ["2.bias", "2.weight", "4.bias", "4.weight", "features.0.bias", "features.0.weight", "features.3.bias", "features.3.weight"]);
// The CLI evaluates the page's file: it rebuilds the network from the design inside it.
assert.match(execFileSync(cli, ["eval", "--weights", ownWeights], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }), /^Own network · width ÷2 · input 28×28: test loss [\d.]+, test acc [\d.]+ on 10000 images/);
await own.getByTestId("model").screenshot({ path: `${shots}/own-network.png` });
// The link reopens the design; the file opens into it.
await own.goto(ownLink);
await own.getByTestId("design-text").waitFor({ timeout: 120_000 });
assert.equal(await own.getByTestId("design-text").inputValue(), design.join("\n"));
await own.getByTestId("net").selectOption("nin");
await own.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await own.getByTestId("upload-weights").setInputFiles(ownWeights);
await own.waitForFunction(() => document.querySelector("[data-testid=weights-message]")?.innerText.startsWith("loaded"), null, { timeout: 120_000 })
  .catch(async (e) => { console.log(await own.getByTestId("training").innerText()); throw e; });
assert.match(await own.getByTestId("weights-message").innerText(), /^loaded own\.safetensors into Own network · width ÷2 · input 28×28/);
assert.equal(await own.getByTestId("design-text").inputValue(), design.join("\n"), "the file's design is back in the editor");
assert.deepEqual(ownErrors, []);
await own.close();

step("13 keyboard only: a knob set, start, pause, an image inspected, the results read (Tab, Shift+Tab, Enter, Space, typing)");
// Only page.keyboard drives this page: no clicks, no fill; the test reads the page as it goes.
const keysContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
const kb = await keysContext.newPage();
const kbErrors = [];
kb.on("pageerror", (e) => kbErrors.push(e.message));
await kb.goto(`${url}?limit=320`); // auto: the CPU engine on SwiftShader, quick
await kb.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await kb.getByTestId("kept").waitFor({ timeout: 60_000 });
const said = () => kb.evaluate(() => document.querySelector("[data-testid=announcer]").textContent);
const saidNow = (prefix) => kb.waitForFunction((p) => document.querySelector("[data-testid=announcer]").textContent.startsWith(p), prefix, { timeout: 300_000 })
  .catch(async (e) => { throw new Error(`${e.message}: the live region says “${await said()}”, not “${prefix}…”`); });
assert.match(await said(), /^Fashion-MNIST loaded: 320 training and 320 test images$/);
// The knobs: typed into, each committed by the Tab that leaves it.
for (const [label, value] of [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 90]]) {
  await a11y.tabTo(kb, (f) => f.tag === "input" && f.label.startsWith(label), { what: `the ${label} knob` });
  await a11y.assertFocusVisible(kb, `the ${label} knob`);
  await kb.keyboard.press("Control+A");
  await kb.keyboard.type(String(value));
}
await kb.keyboard.press("Tab");
await kb.waitForFunction(() => ["ratio=16", "side=67", "batch=32", "epochs=90"].every((p) => location.search.includes(p)), null, { timeout: 10_000 });
await a11y.tabTo(kb, (f) => f.testid === "start", { what: "start" });
await a11y.assertFocusVisible(kb, "the start button");
await kb.screenshot({ path: `${shots}/keyboard-focus.png` });
// What the live region says from here, and how often: on state changes and at most one epoch
// line in ten seconds, never a step's progress.
await kb.evaluate(() => {
  const region = document.querySelector("[data-testid=announcer]");
  window.__said = [];
  new MutationObserver(() => { if (window.__said.at(-1) !== region.textContent) window.__said.push(region.textContent); })
    .observe(region, { childList: true, subtree: true, characterData: true });
});
await kb.keyboard.press("Enter");
await kb.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 40, null, { timeout: 300_000 });
const spoken = await kb.evaluate(() => window.__said);
console.log(`e2e: the live region over the first 40 steps: ${JSON.stringify(spoken)}`);
assert.match(spoken[0] ?? "", /^training started: AlexNet ÷16, 90 epochs$/);
assert.ok(spoken.length <= 3 && spoken.slice(1).every((t) => /^epoch \d+, loss /.test(t)), `40 steps, 4 epochs: the start and at most two epoch lines, no step's progress: ${JSON.stringify(spoken)}`);
assert.equal(await kb.getByTestId("announcer").getAttribute("aria-live"), "polite");
await a11y.tabTo(kb, (f) => f.testid === "pause", { what: "pause" });
await a11y.assertFocusVisible(kb, "the pause button");
await kb.keyboard.press("Space");
await kb.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "paused", null, { timeout: 60_000 });
await saidNow("paused at step ");
// A test image by its number: typed, Enter.
await a11y.tabTo(kb, (f) => f.testid === "image-index", { what: "the test image's number" });
await a11y.assertFocusVisible(kb, "the test image's number");
await kb.keyboard.press("Control+A");
await kb.keyboard.type("7");
await kb.keyboard.press("Enter");
await saidNow("test image #7: Label: ");
const kbPredicted = (await kb.getByTestId("prediction").innerText()).match(/^Label: .+ — predicted: ([^(\n]+) \(/)[1];
await kb.waitForFunction((c) => document.querySelector("[data-testid=explanation]")?.dataset.class === c, kbPredicted, { timeout: 120_000 });
// Another class's bar is a button: Enter explains it.
const bar = await a11y.tabTo(kb, (f) => f.className.includes("prob") && f.dataClass !== kbPredicted, { what: "another class's probability" });
await a11y.assertFocusVisible(kb, "a class's probability");
await kb.keyboard.press("Enter");
await kb.waitForFunction((c) => document.querySelector("[data-testid=explanation]")?.dataset.class === c, bar.dataClass, { timeout: 120_000 });
const saliencyWords = await kb.locator(".explain-canvas").first().getAttribute("aria-label");
assert.ok(saliencyWords.startsWith(`saliency for “${bar.dataClass}” over the 67×67 input, in red over the image: strongest at row `), saliencyWords);
// The results: Space on "evaluate", then the matrix's region takes the focus and reads.
await a11y.tabTo(kb, (f) => f.testid === "evaluate", { what: "evaluate" });
await kb.keyboard.press("Space");
await saidNow("Test accuracy ");
await a11y.tabTo(kb, (f) => f.testid === "confusion-region", { what: "the confusion matrix" });
await a11y.assertFocusVisible(kb, "the confusion matrix");
const matrix = await kb.evaluate(() => document.activeElement.querySelectorAll("tbody tr").length);
assert.equal(matrix, 10, "the focused region holds the confusion matrix");
// A misclassified image is a button: Enter looks inside the network with it, and the focus goes
// to the image's number in card 5.
await a11y.tabTo(kb, (f) => f.testid === "mistake", { what: "a misclassified image" });
await a11y.assertFocusVisible(kb, "a misclassified image");
const mistakeIndex = await kb.evaluate(() => document.activeElement.dataset.index);
await kb.keyboard.press("Enter");
await saidNow(`test image #${mistakeIndex}: Label: `);
assert.match(await said(), /\(wrong\)$/, "a misclassified image is still misclassified (the run is paused)");
assert.deepEqual(await kb.evaluate(() => [document.activeElement.dataset.testid, document.activeElement.value]), ["image-index", mistakeIndex]);
// Back up the page to "resume" (Shift+Tab), Enter; and Enter again pauses.
const resume = await a11y.tabTo(kb, (f) => f.testid === "pause", { back: true, what: "resume" });
assert.equal(resume.text, "resume");
await kb.keyboard.press("Enter");
await saidNow("training resumed at step ");
await kb.keyboard.press("Enter");
await saidNow("paused at step ");
assert.deepEqual(kbErrors, []);
await keysContext.close();

step("2c a bad URL parameter is explained");
const badLimit = await browser.newPage({ viewport: { width: 1200, height: 700 } });
await badLimit.goto(`${url}?device=gpu&limit=abc`);
await badLimit.getByTestId("data-error").waitFor({ timeout: 120_000 });
assert.match(await badLimit.getByTestId("data-error").innerText(), /\?limit=abc, which is not a whole number of images \(1 or more\): fix it or remove it/);
await badLimit.close();

step("2b a corrupt data file is reported with its name, and a file picker is offered");
const corrupt = await browser.newPage({ viewport: { width: 1200, height: 700 } });
await corrupt.goto(`${url}?device=gpu&data=data/corrupt`);
await corrupt.getByTestId("data-error").waitFor({ timeout: 120_000 });
assert.match(await corrupt.getByTestId("data-error").innerText(), /train-images-idx3-ubyte\.gz: is not a valid gzip file/);
assert.equal(await corrupt.getByTestId("data").locator("input[type=file]").count(), 1, "a picker for the four files");
await corrupt.screenshot({ path: `${shots}/corrupt-data.png` });

step("1c a bug, in the page or in the engine's worker, shows a notice, not a blank page");
const crash = await browser.newPage({ viewport: { width: 1200, height: 700 } });
await crash.goto(`${url}?device=gpu`);
await crash.getByTestId("adapter").waitFor({ timeout: 60_000 });
await crash.evaluate(() => { try { window.wasmBindings.crash_test(); } catch (e) { /* the panic's abort */ } });
await crash.getByTestId("crash").waitFor({ timeout: 30_000 });
assert.match(await crash.getByTestId("crash").innerText(), /^cnnscope stopped because of a bug: panicked at .*crash_test\(\) was called.*Reload the page to go on\. Please report it/);
await crash.screenshot({ path: `${shots}/crash.png` });
await crash.close();
const workerCrash = await browser.newPage({ viewport: { width: 1200, height: 700 } });
await workerCrash.goto(`${url}?device=gpu`);
await workerCrash.getByTestId("adapter").waitFor({ timeout: 60_000 });
await workerCrash.evaluate(() => window.wasmBindings.worker_crash_test());
await workerCrash.getByTestId("crash").waitFor({ timeout: 30_000 });
assert.match(await workerCrash.getByTestId("crash").innerText(), /^cnnscope stopped because of a bug: in the engine's worker, panicked at .*worker_crash_test\(\) was called.*Reload the page to go on/);
assert.equal(await workerCrash.getByTestId("crash").count(), 1, "one notice: the panic's, not also its abort's");
await workerCrash.close();
// An abort (what a failed allocation does: no panic, no hook) ends the worker's wasm without a
// word from Rust; its loader tells the page, which says what was kept (issue 33.2).
const workerAbort = await browser.newPage({ viewport: { width: 1200, height: 700 } });
await workerAbort.goto(`${url}?device=cpu&limit=320&ratio=16&side=67&batch=32&epochs=3`);
await workerAbort.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await workerAbort.getByTestId("start").click();
await workerAbort.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 3, null, { timeout: 300_000 });
await workerAbort.getByTestId("pause").click();
await workerAbort.waitForFunction(() => document.querySelector("[data-testid=saved]")?.innerText.startsWith("kept in this browser at step"), null, { timeout: 120_000 });
const abortKept = await workerAbort.getByTestId("saved").innerText();
await workerAbort.evaluate(() => window.wasmBindings.worker_abort_test());
await workerAbort.getByTestId("crash").waitFor({ timeout: 30_000 });
const abortNotice = await workerAbort.getByTestId("crash").innerText();
assert.match(abortNotice, /^cnnscope stopped because of a bug: in the engine's worker, RuntimeError: unreachable.* \(its memory: [\d.]+ GiB of wasm32's 4 GiB\)\. The run \S+-alexnet was kept in this browser at step \d+: after reloading, open it from “Runs kept in this browser”\. Reload the page to go on/);
assert.ok(abortNotice.includes(`was ${abortKept}:`), `${abortNotice} names the keep (${abortKept})`);
await workerAbort.getByTestId("crash").screenshot({ path: `${shots}/worker-abort.png` });
await workerAbort.close();

step("1c auto on a software adapter picks the CPU engine; a paused run switches engine and goes on");
const auto = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await auto.goto(`${url}?limit=320`);
await auto.getByTestId("engine").waitFor({ timeout: 60_000 });
assert.equal(await auto.getByTestId("engine").getAttribute("data-engine"), "cpu");
assert.match(await auto.getByTestId("engine").innerText(), /this WebGPU adapter is a CPU \(.*swiftshader.*\): training on the CPU engine/i);
// The self-check, on the adapter auto did not take: its kernels against the CPU engine, case by case.
await auto.getByTestId("check-adapter").click();
await auto.getByTestId("check-verdict").waitFor({ timeout: 300_000 });
assert.match(await auto.getByTestId("check-verdict").innerText(), /^checked on this GPU: \d+ cases agree with the CPU engine$/);
assert.match(await auto.getByTestId("check-report").textContent(), /self-check of the WGSL engine on .*swiftshader.* against the CPU engine[\s\S]*gemm Tiled: grad w[\s\S]*convolution: grad x/i);
await auto.getByTestId("adapter").screenshot({ path: `${shots}/self-check.png` });
await auto.getByTestId("data-ready").waitFor({ timeout: 180_000 });
await auto.getByTestId("engine-choice").selectOption("gpu");
await auto.waitForFunction(() => document.querySelector("[data-testid=engine]")?.dataset.engine === "gpu", null, { timeout: 60_000 });
assert.equal(new URL(auto.url()).searchParams.get("device"), "gpu", "the address keeps the engine");
const autoField = (label) => auto.locator("label", { hasText: label }).locator("input");
for (const [label, value] of [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 2]]) {
  await autoField(label).fill(String(value));
  await autoField(label).dispatchEvent("change");
}
const autoSteps = async () => Number(await auto.getByTestId("progress-text").getAttribute("data-steps"));
await auto.getByTestId("start").click();
await auto.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 4, null, { timeout: 300_000 });
await auto.getByTestId("pause").click();
await auto.waitForFunction(() => document.querySelector("[data-testid=status]")?.innerText === "paused", null, { timeout: 60_000 });
const switchedAt = await autoSteps();
await auto.getByTestId("engine-choice").selectOption("cpu");
await auto.waitForFunction(() => document.querySelector("[data-testid=engine]")?.dataset.engine === "cpu", null, { timeout: 60_000 });
await auto.waitForFunction(() => document.querySelector("[data-testid=status]")?.innerText === "paused", null, { timeout: 60_000 });
await auto.getByTestId("weights-message").filter({ hasText: "moved" }).waitFor({ timeout: 60_000 });
assert.equal(await auto.getByTestId("weights-message").innerText(), `the run moved to the CPU engine, paused at step ${switchedAt}: “resume” continues it`);
await auto.getByTestId("pause").click(); // resume, now on the CPU engine
await auto.waitForFunction(() => document.querySelector("[data-testid=status]")?.innerText === "finished", null, { timeout: 300_000 });
assert.equal((await auto.getByTestId("epoch-lines").innerText()).split("\n").length, 2, "both epochs, across the switch");
assert.equal(await autoSteps(), 20, "every step once: none lost or repeated by the switch");
await auto.screenshot({ path: `${shots}/engine-switch.png`, fullPage: true });
await auto.close();
await browser.close();

step("1b without WebGPU: the CPU engine trains");
const plain = await launch(false);
const noGpu = await plain.newPage({ viewport: { width: 1200, height: 900 } });
await noGpu.goto(`${url}?limit=320`);
await noGpu.getByTestId("engine").waitFor({ timeout: 60_000 });
assert.equal(await noGpu.getByTestId("engine").getAttribute("data-engine"), "cpu");
// Chromium without the flag has navigator.gpu but no adapter; a browser without WebGPU has neither.
assert.match(await noGpu.getByTestId("engine").innerText(), /^CPU engine: (no WebGPU in this browser|no usable GPU adapter here): training on the CPU engine$/);
await noGpu.getByTestId("data-ready").waitFor({ timeout: 180_000 });
const plainField = (label) => noGpu.locator("label", { hasText: label }).locator("input");
for (const [label, value] of [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 1]]) {
  await plainField(label).fill(String(value));
  await plainField(label).dispatchEvent("change");
}
const cpuStart = Date.now();
await noGpu.getByTestId("start").click();
await noGpu.getByTestId("first-step").waitFor({ timeout: 60_000 });
console.log(`e2e: CPU engine without WebGPU: first step ${(Date.now() - cpuStart) / 1000} s after start (${await noGpu.getByTestId("first-step").getAttribute("data-secs")} s in the worker)`);
await noGpu.waitForFunction(() => document.querySelector("[data-testid=status]").innerText === "finished", null, { timeout: 300_000 });
assert.match(await noGpu.getByTestId("epoch-lines").innerText(), /^epoch 1, loss [\d.]+, train acc [\d.]+, test acc [\d.]+, time [\d.]+ sec, [\d.]+ images\/s$/);
console.log(`e2e: CPU engine without WebGPU: ${await noGpu.getByTestId("epoch-lines").innerText()}`);
// Asking for the GPU engine where there is none says why and keeps the CPU engine.
await noGpu.getByTestId("engine-choice").selectOption("gpu");
await noGpu.getByTestId("weights-message").filter({ hasText: "could not be switched" }).waitFor({ timeout: 60_000 });
assert.equal(await noGpu.getByTestId("engine").getAttribute("data-engine"), "cpu");
await noGpu.screenshot({ path: `${shots}/no-webgpu.png`, fullPage: true });
await plain.close();
console.log("e2e: all passed");
