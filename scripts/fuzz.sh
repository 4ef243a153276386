#!/usr/bin/env bash
# Runs the fuzz targets (tests/fuzz.rs) for FUZZ_SECONDS each (default 600: ten minutes), two at a
# time on a 2-core machine, in an optimised build, and prints each target's executions.
# CI runs the same targets for 3 s each inside `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
cargo test --release --test fuzz -- --nocapture --test-threads 2 2>&1 | grep -E "^fuzz |test result|panicked|failed"
