// cnnscope's page against TensorFlow.js 4.22 (WebGPU, and wasm with a JavaScript
// Conv2DBackpropFilter) in the same headless Chromium: training images/s at width ÷8, batch 64,
// Adam, and the seconds from "start" to the first step: started at once, and started once the page
// has compiled the kernels ahead (as it does while its user sets the knobs; a browser of its own,
// so that nothing the first measurement compiled is cached). Usage (scripts/browser_bench.sh):
//   node bench.mjs <url of the served site> [net,net,…] [timed steps, a multiple of 5] [page]
// (`page`: the page alone, TF.js skipped) [parts]
// The page runs on each of its engines (`?device=cpu`: the CPU engine, which `auto` picks on
// SwiftShader; `?device=gpu`: the WGSL kernels on WebGPU). `parts`, comma-separated, picks what to
// measure: cpu, gpu, ahead (the WGSL page's first step after compiling ahead), webgpu and wasm
// (TF.js's backends); all by default.
import { chromium } from "playwright-core";

const [url, which = "alexnet,vgg11,nin,googlenet", stepsArg = "5", only = "", partsArg = ""] = process.argv.slice(2);
const parts = new Set((partsArg || "cpu,gpu,ahead,webgpu,wasm").split(","));
if (only === "page") { parts.delete("webgpu"); parts.delete("wasm"); }
const nets = which.split(",");
const steps = Math.max(5, Math.round(Number(stepsArg) / 5) * 5);
const SIDE = { alexnet: 224, vgg11: 224, nin: 224, googlenet: 96 };
const NAME = { alexnet: "AlexNet", vgg11: "VGG-11", nin: "NiN", googlenet: "GoogLeNet" };
const RATIO = 8, BATCH = 64;
// The page with the knobs in its address, as a user's link has them.
const pageUrl = (net, limit, device) => `${url}?device=${device}&net=${net}&ratio=${RATIO}&side=${SIDE[net]}&batch=${BATCH}&epochs=1&limit=${limit}`;

const launch = () => chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu"],
});
const browser = await launch();
const fresh = async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(0);
  return page;
};

// The page as a user runs it: the knobs in the address, "start", then the rate between two of
// its progress reports (every 5 steps) after the first 5 steps.
async function cnnscope(net, device) {
  const page = await fresh();
  const limit = BATCH * (steps + 10);
  await page.goto(pageUrl(net, limit, device));
  await page.getByTestId("data-ready").waitFor();
  // The adapter as the browser names it (GPUAdapter.info), as the page's adapter card does.
  const adapter = await page.evaluate(async () => {
    const info = (await navigator.gpu.requestAdapter()).info;
    return [info.vendor, info.architecture, info.description].filter(Boolean).join(" · ");
  });
  await page.getByTestId("start").click();
  await page.getByTestId("first-step").waitFor();
  const first = Number(await page.getByTestId("first-step").getAttribute("data-secs"));
  const reached = async (n) => {
    await page.waitForFunction((n) => Number(document.querySelector("[data-testid=progress-text]")?.dataset.steps ?? 0) >= n, n, { polling: 50 });
    return page.evaluate(() => performance.now() / 1000);
  };
  const t0 = await reached(5);
  const t1 = await reached(5 + steps);
  // Paused and kept (a readback), so that the GPU process is idle for whatever runs next.
  await page.getByTestId("pause").click();
  await page.waitForFunction(() => document.querySelector("[data-testid=saved]")?.innerText.startsWith("kept in this browser"), null, { polling: 100 });
  await page.close();
  return { rate: (steps * BATCH) / (t1 - t0), first, adapter };
}

// The page left alone until its kernels for the knobs are compiled ahead, then "start": the
// seconds from the data to "kernels ready", and from "start" to the first step.
async function cnnscopeAhead(net) {
  const own = await launch();
  const page = await own.newPage();
  page.setDefaultTimeout(0);
  await page.goto(pageUrl(net, BATCH * 20, "gpu"));
  await page.getByTestId("data-ready").waitFor();
  const dataAt = await page.evaluate(() => performance.now() / 1000);
  await page.waitForFunction(() => document.querySelector("[data-testid=kernels-ahead]")?.innerText.startsWith("kernels ready"), null, { polling: 100 });
  const readyAt = await page.evaluate(() => performance.now() / 1000);
  await page.getByTestId("start").click();
  await page.getByTestId("first-step").waitFor();
  const first = Number(await page.getByTestId("first-step").getAttribute("data-secs"));
  await own.close();
  return { ahead: readyAt - dataAt, first };
}

async function tfjs(net, backend) {
  const page = await fresh();
  await page.goto(`${url}tfjs/tfjs.html`);
  try {
    const r = await page.evaluate(([net, backend, ratio, side, batch, steps]) => window.bench(net, backend, ratio, side, batch, steps),
      [net, backend, RATIO, SIDE[net], BATCH, Math.max(2, steps / 5)]);
    return { rate: r.imagesPerSec, first: r.firstStepSecs };
  } catch (e) {
    return { rate: NaN, first: NaN, error: e.message.split("\n")[0] };
  } finally {
    await page.close();
  }
}

const rows = [];
const skipped = { rate: NaN, first: NaN };
for (const net of nets) {
  // Ahead first: a page closed mid-run leaves its browser's GPU process busy for a while.
  const compiledAhead = parts.has("ahead") ? await cnnscopeAhead(net) : skipped;
  const gpu = parts.has("gpu") ? { ...(await cnnscope(net, "gpu")), compiledAhead } : { ...skipped, compiledAhead };
  const cpu = parts.has("cpu") ? await cnnscope(net, "cpu") : skipped;
  const webgpu = parts.has("webgpu") ? await tfjs(net, "webgpu") : skipped;
  const wasm = parts.has("wasm") ? await tfjs(net, "wasm") : skipped;
  const row = { net, cpu, gpu, webgpu, wasm };
  console.error(`${NAME[net]}: ${JSON.stringify(row)}`);
  rows.push(row);
}
const f = (x) => (Number.isFinite(x) ? (x >= 10 ? x.toFixed(0) : x.toFixed(1)) : "—");
const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : "—");
const adapter = rows[0]?.gpu.adapter ?? rows[0]?.cpu.adapter;
console.log(`Training images/s in headless Chromium (WebGPU: **${adapter}**), width ÷${RATIO}, batch ${BATCH}, Adam; `
  + `the page on its CPU engine (one wasm thread) and on its WGSL engine; `
  + `first step: seconds from "start" (cnnscope) or from the first \`trainOnBatch\` (TF.js) to its end; `
  + `"ahead": the WGSL page's first step when started after compiling its kernels ahead (and how long that took after the data was in).\n`);
console.log("| net | page, CPU engine | page, WGSL engine | TF.js 4.22 WebGPU | TF.js 4.22 wasm* | CPU engine ÷ TF.js wasm | CPU engine ÷ WGSL page | first step: CPU / WGSL page / TF.js WebGPU / wasm | WGSL page, kernels ahead |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const { net, cpu, gpu, webgpu, wasm } of rows) {
  console.log(`| ${NAME[net]} @${SIDE[net]} | ${f(cpu.rate)} | ${f(gpu.rate)} | ${f(webgpu.rate)} | ${f(wasm.rate)} | ${ratio(cpu.rate, wasm.rate)} | ${ratio(cpu.rate, gpu.rate)} | ${f(cpu.first)} / ${f(gpu.first)} / ${f(webgpu.first)} / ${f(wasm.first)} s | ${f(gpu.compiledAhead.first)} s (ready after ${f(gpu.compiledAhead.ahead)} s) |`);
}
console.log("\n\\* with a JavaScript `Conv2DBackpropFilter` registered: tfjs-backend-wasm 4.22 has none, so it cannot train a convnet as shipped.");
await browser.close();
