// The app in Firefox (Debian's firefox-esr), driven over WebDriver BiDi by npm's puppeteer-core (no
// browser download, no geckodriver): a shorter pass of app.test.mjs. With WebGPU's two prefs set
// Firefox runs WebGPU on Mesa's lavapipe; without them it has no WebGPU and the CPU engine trains.
// Usage: node tests/e2e/firefox.test.mjs <url of the served dist/> <screenshot dir>
import puppeteer from "puppeteer-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { a11y } from "./a11y.mjs";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const step = (name) => console.log(`e2e firefox: ${name}`);
const launch = (webgpu) => puppeteer.launch({
  browser: "firefox",
  executablePath: "/usr/bin/firefox-esr",
  headless: true,
  protocolTimeout: 600_000,
  extraPrefsFirefox: webgpu ? { "dom.webgpu.enabled": true, "gfx.webgpu.ignore-blocklist": true } : { "dom.webgpu.enabled": false },
});
const minutes = (n) => ({ timeout: n * 60_000 });
const text = (page, testId) => page.$eval(`[data-testid=${testId}]`, (e) => e.innerText);
const statusIs = (page, status) => page.waitForFunction((s) => document.querySelector("[data-testid=status]")?.innerText === s, minutes(5), status);
const click = (page, testId) => page.$eval(`[data-testid=${testId}]`, (e) => e.click());
// A knob: its label's input, set as a user's typing leaves it (the page reads "change").
const setKnobs = (page, knobs) => page.evaluate((knobs) => {
  for (const [label, value] of knobs) {
    const input = [...document.querySelectorAll("label")].find((l) => l.textContent.includes(label))?.querySelector("input");
    if (!input) throw new Error(`no knob ${label}`);
    input.value = String(value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }
}, knobs);
const errorsOf = (page) => {
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("404")) errors.push(m.text()); });
  return errors;
};

step("1 WebGPU on lavapipe: the WGSL engine, asked for, on Firefox's adapter");
const browser = await launch(true);
const page = await browser.newPage();
await page.setViewport({ width: 1200, height: 900 });
const errors = errorsOf(page);
await page.goto(`${url}?device=gpu&limit=320`);
await page.waitForSelector("[data-testid=engine]", minutes(1));
assert.equal(await page.$eval("[data-testid=engine]", (e) => e.dataset.engine), "gpu");
assert.match(await text(page, "adapter"), /largest buffer binding\s+\d+ MiB/);
await page.waitForSelector("[data-testid=data-ready]", minutes(3));
assert.match(await text(page, "data-ready"), /320 training and 320 test images of 28×28/);

step("2 training: the loss falls; the step is timed by the GPU's timestamps (Firefox offers timestamp-query)");
// Thirty epochs: on lavapipe a step takes tens of milliseconds, and the run must still be going
// when it is paused.
await setKnobs(page, [["width ÷", 16], ["side", 67], ["batch", 32], ["learning rate", 0.002], ["epochs", 30]]);
await click(page, "start");
await page.waitForSelector("[data-testid=first-step]", minutes(5));
await page.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 12, minutes(5));
await page.waitForSelector("[data-testid=time-clock]", minutes(2));
assert.equal(await text(page, "time-clock"), "Timed by the GPU's own clock (timestamp queries) around each part, in one submission.");
const timeRows = await page.$$eval("[data-testid=time-row]", (rows) => rows.map((r) => r.innerText));
assert.ok(timeRows.length >= 8, `a row per layer: ${timeRows}`);
console.log(`e2e firefox: ${(await text(page, "time-chart")).split("\n")[0]}`);
await click(page, "pause");
await statusIs(page, "paused");
await page.waitForFunction(() => document.querySelector("[data-testid=saved]")?.innerText.startsWith("kept in this browser at step"), minutes(2));
const keptStep = (await text(page, "saved")).match(/at step (\d+)$/)[1];
const rate = (await text(page, "progress-text")).match(/([\d.]+) images\/s/)[1];
const losses = (await page.$eval("[data-testid=loss-values]", (e) => e.textContent)).trim().split(" ").map(Number);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
assert.ok(losses.length >= 4 && mean(losses.slice(-2)) < mean(losses.slice(0, 2)), `the loss falls: ${losses}`);
console.log(`e2e firefox: WGSL engine on Firefox's lavapipe: ${rate} images/s, kept at step ${keptStep}`);

step("3 inside: feature maps and the prediction for a test image");
await click(page, "refresh-maps");
await page.waitForSelector("[data-testid=prediction]", minutes(2));
const contrasts = await page.$$eval(".fmap-canvas", (canvases) => canvases.map((c) => {
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let lo = 255, hi = 0;
  for (let i = 0; i < data.length; i += 4) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
  return hi - lo;
}));
assert.ok(contrasts.length >= 10 && contrasts.filter((c) => c > 0).length >= contrasts.length - 2, `feature maps drawn: ${contrasts}`);
assert.match(await text(page, "prediction"), /Label: .+ — predicted: /);
// axe-core in Firefox too: its own layout and accessibility tree (tests/e2e/a11y.mjs).
await a11y.check(page, "Firefox: a paused run, curves and feature maps");

step("4 a reload: the kept run opens where it was, moves to the CPU engine and trains on from there");
await page.reload();
await page.waitForSelector("[data-testid=data-ready]", minutes(3));
await page.waitForSelector("[data-testid=saved-runs]", minutes(2));
await page.$eval("[data-testid=open-run]", (b) => b.click());
await statusIs(page, "paused");
await page.waitForFunction((s) => document.querySelector("[data-testid=weights-message]")?.innerText.includes(`, paused at step ${s}: `), minutes(1), keptStep)
  .catch(async (e) => { throw new Error(`${e.message}: the page says “${await text(page, "weights-message").catch(() => "nothing")}”, status ${await text(page, "status")}`); });
await page.select("[data-testid=engine-choice]", "cpu");
await page.waitForFunction(() => document.querySelector("[data-testid=engine]")?.dataset.engine === "cpu", minutes(1));
await page.waitForFunction((s) => document.querySelector("[data-testid=weights-message]")?.innerText === `the run moved to the CPU engine, paused at step ${s}: “resume” continues it`, minutes(1), keptStep);
const lines = (await text(page, "epoch-lines")).split("\n").length;
await click(page, "pause"); // resume
await page.waitForFunction((n) => document.querySelector("[data-testid=epoch-lines]")?.innerText.split("\n").length >= n + 1, minutes(5), lines);
await click(page, "pause");
await statusIs(page, "paused");
assert.match((await text(page, "epoch-lines")).split("\n")[lines], new RegExp(`^epoch ${lines + 1}, loss [\\d.]+`), "the next epoch, on the CPU engine");
await page.screenshot({ path: `${shots}/firefox.png`, fullPage: true });
await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
// Firefox reloads the page for a mobile viewport: wait for it to be rendered again (the check and
// the screenshot were of an empty page before).
await page.waitForSelector("[data-testid=kept]", minutes(2));
await page.waitForSelector("[data-testid=data-ready]", minutes(3));
assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), "no sideways scrolling at 390 px");
await page.evaluate(() => window.scrollTo(0, 0));
await page.screenshot({ path: `${shots}/firefox-phone.png` });
assert.deepEqual(errors, [], "no errors in the console");

step("4b a reload mid-run loses seconds of training, not minutes");
// A run kept every few seconds and at epoch ends (the worker's keeps), reloaded while it trains.
await page.close(); // one tab: a background tab's worker may be held back
const midRun = await browser.newPage();
await midRun.setViewport({ width: 1200, height: 900 });
midRun.on("dialog", (d) => d.accept()); // the "leave the page?" question, should the browser ask it
await midRun.goto(`${url}?device=cpu&limit=320&ratio=16&side=67&batch=32&epochs=30`);
await midRun.waitForSelector("[data-testid=data-ready]", minutes(3));
await click(midRun, "start");
await midRun.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 40, minutes(5))
  .catch(async (e) => { throw new Error(`${e.message}: status ${await text(midRun, "status").catch(() => "?")}, ${await text(midRun, "weights-message").catch(() => "no message")}`); });
await new Promise((r) => setTimeout(r, 3000));
const before = await midRun.$eval("[data-testid=progress-text]", (e) => ({ steps: Number(e.dataset.steps), rate: Number(e.innerText.match(/([\d.]+) images\/s/)[1]) }));
assert.ok(before.steps < 300, "still training when reloaded");
await midRun.reload();
await midRun.waitForSelector("[data-testid=data-ready]", minutes(3));
await midRun.waitForSelector("[data-testid=saved-runs]", minutes(3));
await midRun.$eval("[data-testid=open-run]", (b) => b.click());
await statusIs(midRun, "paused")
  .catch(async (e) => { throw new Error(`${e.message}: status ${await text(midRun, "status").catch(() => "?")}, “${await text(midRun, "weights-message").catch(() => "no message")}”, runs: ${await text(midRun, "saved-runs").catch(() => "?")}`); });
const back = Number((await text(midRun, "weights-message")).match(/paused at step (\d+)/)[1]);
// (Steps go on between the reading and the reload: a keep as the page goes may be later still.)
const lostSecs = Math.max(0, before.steps - back) * 32 / before.rate;
console.log(`e2e firefox: reloaded at step ${before.steps} (${before.rate} images/s), back at step ${back}: ${lostSecs.toFixed(1)} s of training lost`);
assert.ok(back > 0 && lostSecs <= 12, `back within seconds of where it was: step ${back} of ${before.steps}`);

step("4c d2l's NiN recipe (batch 128, 224 px) on Firefox's 128 MiB binding: each step in two micro-batches of 64");
// Its first block's outputs need 136.7 MiB each at batch 128, over the adapter's binding: the page
// plans two micro-batches and takes a step of 128 images on the WGSL engine. One step shows that
// as well as an epoch does: the test stops at the step's loss, before the epoch's evaluation
// (the whole epoch took 135–526 s here, issue 30).
await midRun.close();
const nin = await browser.newPage();
await nin.setViewport({ width: 1200, height: 900 });
const ninErrors = errorsOf(nin);
await nin.goto(`${url}?device=gpu&limit=128&net=nin&ratio=1&side=224&batch=128&optimizer=sgd&lr=0.1&epochs=1`);
await nin.waitForSelector("[data-testid=data-ready]", minutes(3));
assert.match(await text(nin, "adapter"), /largest buffer binding\s+128 MiB/, "Firefox's adapter binds 128 MiB on lavapipe");
await nin.waitForFunction(() => document.querySelector("[data-testid=summary-line]")?.innerText.includes("each step in 2 micro-batches of 64"), minutes(1))
  .catch(async (e) => { throw new Error(`${e.message}: ${await text(nin, "summary-line").catch(() => "no summary line")}`); });
const started = Date.now();
await click(nin, "start");
const ninFailed = async (e) => { throw new Error(`${e.message}: status ${await text(nin, "status").catch(() => "?")}, “${await text(nin, "weights-message").catch(() => "")}”`); };
// The first step (its kernels compiled first) is the epoch's only one (128 images), so its loss is
// read back at once; the browser closes during the evaluation that follows.
await nin.waitForSelector("[data-testid=first-step]", minutes(8)).catch(ninFailed);
const firstStep = await text(nin, "first-step");
await nin.waitForFunction(() => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= 1, minutes(5)).catch(ninFailed);
const ninLosses = (await nin.$eval("[data-testid=loss-values]", (e) => e.textContent)).trim().split(" ").map(Number);
assert.ok(ninLosses.length >= 1 && ninLosses.every((l) => Number.isFinite(l) && l > 0 && l < 3), `finite losses: ${ninLosses}`);
console.log(`e2e firefox: d2l's NiN in 2 micro-batches of 64 on the WGSL engine, a step in ${((Date.now() - started) / 1000).toFixed(0)} s (${firstStep}), loss ${ninLosses.at(-1)}`);
assert.deepEqual(ninErrors, [], "no errors in the console");
await browser.close();

step("5 WebGPU off: the CPU engine trains, and the card says how to turn WebGPU on in Firefox on Linux");
const plain = await launch(false);
const noGpu = await plain.newPage();
await noGpu.setViewport({ width: 1200, height: 900 });
await noGpu.goto(`${url}?limit=320`);
await noGpu.waitForSelector("[data-testid=engine]", minutes(1));
assert.equal(await noGpu.$eval("[data-testid=engine]", (e) => e.dataset.engine), "cpu");
assert.equal(await text(noGpu, "engine"), "CPU engine: no WebGPU in this browser: training on the CPU engine");
assert.equal(await text(noGpu, "webgpu-advice"), "To train on your GPU instead: Firefox on Linux keeps WebGPU behind two settings: in about:config set dom.webgpu.enabled and gfx.webgpu.ignore-blocklist to true, then reload (it needs a Vulkan driver).");
await noGpu.waitForSelector("[data-testid=data-ready]", minutes(3));
await setKnobs(noGpu, [["width ÷", 16], ["side", 67], ["batch", 32], ["epochs", 1]]);
await click(noGpu, "start");
await statusIs(noGpu, "finished");
assert.match(await text(noGpu, "epoch-lines"), /^epoch 1, loss [\d.]+, train acc [\d.]+, test acc [\d.]+, time [\d.]+ sec, [\d.]+ images\/s$/);
console.log(`e2e firefox: CPU engine without WebGPU: ${await text(noGpu, "epoch-lines")}`);
await noGpu.screenshot({ path: `${shots}/firefox-no-webgpu.png`, fullPage: true });
await plain.close();
console.log("e2e firefox: all passed");
