// Starts the engine's Web Worker (app/src/worker; the page spawns this file, page/bridge.rs):
// wasm-bindgen's no-modules glue, then its wasm, passed as the one object wasm-bindgen asks for.
// Trunk's own loader shim (`data-loader-shim`) passes a bare path, and wasm-bindgen then logs
// "using deprecated parameters for the initialization function" on every start. Trunk names a
// worker's files after its binary, never hashed, so these names are fixed.
importScripts("./cnnscope-worker.js");
wasm_bindgen({ module_or_path: "./cnnscope-worker_bg.wasm" });
