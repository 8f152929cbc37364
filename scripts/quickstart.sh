#!/usr/bin/env bash
# The main job in one command: install the Debian dependencies, build
# clipsearch, get the model, index a folder of images, then run a text query
# and an image query.
#
#   scripts/quickstart.sh [--model NAME_OR_DIR] [--db PATH] IMAGES_DIR [TEXT_QUERY]
#
# Without --model (or $CLIPSEARCH_MODEL) the default model,
# openai/clip-vit-base-patch32, is downloaded from the Hugging Face hub: that
# needs the internet. Offline, point --model at a local Hugging Face model
# folder (config.json, weights, tokenizer and preprocessor files).
set -euo pipefail
cd "$(dirname "$0")/.."

model=${CLIPSEARCH_MODEL:-}
db=()
while [ $# -gt 0 ]; do
    case "$1" in
    --model) model=$2; shift 2 ;;
    --db) db=(--db "$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { sed -n '6p' "$0" >&2; exit 2; }
images=$1
query=${2:-"a photo of a cat"}

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCS_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
cs=build/clipsearch

if [ -z "$model" ]; then
    echo "== getting the default model (needs the internet; offline, use --model DIR)"
    $cs models download
    model=openai/clip-vit-base-patch32
fi

echo "== indexing $images"
$cs index --model "$model" "${db[@]}" "$images" || [ $? -eq 3 ] # 3: some files skipped

echo "== text query: $query"
$cs search --model "$model" "${db[@]}" -k 5 "$query"

first=$(find "$images" -type f ! -name '.*' | sort | head -n 1)
echo "== image query: $first"
$cs search --model "$model" "${db[@]}" -k 5 --image "$first"
