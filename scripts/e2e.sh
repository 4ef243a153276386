#!/usr/bin/env bash
# End-to-end test of the browser app: builds it with trunk, serves dist/ on 127.0.0.1 (with a
# deliberately corrupt copy of the dataset beside the real one), and drives the system Chromium with
# WebGPU through playwright-core (tests/e2e/app.test.mjs, then a run past 1 GiB in
# tests/e2e/big.test.mjs), then the system Firefox over WebDriver BiDi through puppeteer-core
# (tests/e2e/firefox.test.mjs). Screenshots land in target/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd tests/e2e && npm install --no-audit --no-fund --silent)
# The page as it ships: the release build, each wasm run through npm's binaryen wasm-opt -Os
# (tests/e2e/package.json pins it, Trunk.toml asks trunk for exactly that version, found here on
# the PATH; Debian's binaryen writes broken wasm). It costs CI about 4½ minutes more than the dev
# build that shared its crates with the app's wasm-pack tests (docs/APP.md, "A smaller page"), and
# the browsers test the bytes users get.
PATH="$PWD/tests/e2e/node_modules/.bin:$PATH" trunk build --release --offline
# The CLI (for `summary`, which the layer table is compared with); cargo test built it already.
cargo build -q --bin cnnscope
mkdir -p dist/data/corrupt
cp public/data/fashion-mnist/*.gz dist/data/corrupt/
head -c 100000 public/data/fashion-mnist/train-images-idx3-ubyte.gz > dist/data/corrupt/train-images-idx3-ubyte.gz
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
node tests/e2e/app.test.mjs "http://127.0.0.1:$port/" target/debug/cnnscope target/e2e dist
# A run past 1 GiB, alone in its browser (tests/e2e/big.test.mjs).
node tests/e2e/big.test.mjs "http://127.0.0.1:$port/" target/e2e
# The same page in Firefox, over WebDriver BiDi (tests/e2e/firefox.test.mjs).
if [ -x /usr/bin/firefox-esr ]; then
    node tests/e2e/firefox.test.mjs "http://127.0.0.1:$port/" target/e2e
else
    echo "e2e: no /usr/bin/firefox-esr (Debian's package firefox-esr): the Firefox pass is skipped"
fi
