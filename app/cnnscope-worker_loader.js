// Starts the engine's Web Worker (app/src/worker; the page spawns this file, page/bridge.rs):
// wasm-bindgen's no-modules glue, then its wasm, passed as the one object wasm-bindgen asks for.
// Trunk's own loader shim (`data-loader-shim`) passes a bare path, and wasm-bindgen then logs
// "using deprecated parameters for the initialization function" on every start. Trunk names a
// worker's files after its binary, never hashed, so these names are fixed.
importScripts("./cnnscope-worker.js");
const started = wasm_bindgen({ module_or_path: "./cnnscope-worker_bg.wasm" });

// A trap ends the worker's wasm with no word from Rust: an allocation that fails aborts (no
// panic, so no panic hook), and so does a panic after its hook has spoken. Tell the page, over
// the channel it named in this script's address (`?crash=`), so it shows its crash notice with
// what was kept instead of waiting for a worker that is gone. A tenth of a second later, so that
// a panic's own message (sent by its hook) arrives first and is the one the page shows.
const crash = new URLSearchParams(self.location.search).get("crash");
if (crash) {
  const channel = new BroadcastChannel(crash);
  let told = false;
  const tell = async (error) => {
    if (told || !(error instanceof WebAssembly.RuntimeError)) return;
    told = true;
    const memory = await started.then((wasm) => wasm.memory.buffer.byteLength, () => 0);
    const gib = (memory / 2 ** 30).toFixed(1);
    setTimeout(() => channel.postMessage(`${error} (its memory: ${gib} GiB of wasm32's 4 GiB)`), 100);
  };
  self.addEventListener("error", (e) => tell(e.error));
  self.addEventListener("unhandledrejection", (e) => tell(e.reason));
}
