#!/usr/bin/env bash
# Real-GPU figures in one short run on a lent GPU machine (the `device` tool: 15 minutes a session,
# no network there). Two halves:
#
#   scripts/device_bench.sh prepare   here: builds the release CLI and kernel benchmark and stages
#                                     them, with the Vulkan loader packages, in .device/ (ignored)
#   scripts/device_bench.sh run       there, carrying [".device", "public/data/fashion-mnist"]:
#                                     writes its tables to $OUT (docs/BENCHMARKS.md says where they go)
#
# The binaries are built against this machine's glibc (Debian 12); a device with an older one
# cannot start them, and nothing can be built there.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
    cargo build --release --bin cnnscope --example bench_kernels
    mkdir -p .device/debs /tmp/amd64/partial
    grep -qx '/.device/' .git/info/exclude || echo '/.device/' >> .git/info/exclude
    cp target/release/cnnscope target/release/examples/bench_kernels .device/
    apt_opts='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $apt_opts update -qq
    (cd .device/debs && apt-get $apt_opts download libvulkan1)
    du -sh .device
    ;;
run)
    : "${OUT:?run this on the device machine, where \$OUT is set}"
    for f in .device/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    nvidia-smi --query-gpu=name,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
    # The self-check first: whether the kernels are right on this GPU at all (issue 31), then whole
    # training steps (the figures issue 3 asks for), then the kernel tables (issue 2).
    timeout 60 .device/cnnscope check --ratio 8 > "$OUT/check.txt" 2>&1 || true
    timeout 90 .device/cnnscope bench --ratio 8 --steps 20 > "$OUT/train_ratio8.md" 2>&1 || true
    timeout 90 .device/cnnscope bench --ratio 1 --steps 10 > "$OUT/train_ratio1.md" 2>&1 || true
    timeout 60 .device/cnnscope bench --net alexnet --ratio 1 --steps 3 --profile > "$OUT/profile_alexnet.md" 2>&1 || true
    timeout 120 .device/bench_kernels 8 > "$OUT/kernels_ratio8.md" 2>&1 || true
    timeout 120 .device/bench_kernels 1 > "$OUT/kernels_ratio1.md" 2>&1 || true
    ls -la "$OUT"
    ;;
*)
    echo "usage: scripts/device_bench.sh prepare|run" >&2
    exit 2
    ;;
esac
