#!/usr/bin/env bash
# Puts Fashion-MNIST's four IDX .gz files in public/data/fashion-mnist/ (served by the app, read by
# the CLI): copied from Debian's dataset-fashion-mnist package when it is installed, else downloaded
# from the upstream repository. Either way the decompressed contents must have the SHA-256 sums
# below (the original dataset's; Debian recompresses the .gz files, so their own sums differ).
set -euo pipefail
cd "$(dirname "$0")/.."

dest=public/data/fashion-mnist
debian=/usr/share/datasets/fashion-mnist
upstream=https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion
declare -A sha256=(
    [train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)

verified() { [ -f "$1" ] && [ "$(gunzip -c "$1" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$dest"
for name in "${!sha256[@]}"; do
    file="$dest/$name.gz"
    verified "$file" "${sha256[$name]}" && continue
    if [ -f "$debian/$name.gz" ]; then
        cp "$debian/$name.gz" "$file"
    else
        echo "data: downloading $name.gz"
        curl -fsSL --retry 3 -o "$file" "$upstream/$name.gz"
    fi
    if ! verified "$file" "${sha256[$name]}"; then
        rm -f "$file"
        echo "data: $name.gz does not hold the original Fashion-MNIST data (SHA-256 mismatch)" >&2
        exit 1
    fi
done
echo "data: Fashion-MNIST ready in $dest"
