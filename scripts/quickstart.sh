#!/usr/bin/env bash
# The main job in one command: install the Debian dependencies, build
# clipsearch, get the model, index a folder of images, then run a text query
# and an image query (the images most like the text query's best match).
#
#   scripts/quickstart.sh [--model NAME_OR_DIR] [--db PATH] [--reset] IMAGES_DIR [TEXT_QUERY]
#
# Without --model (or $CLIPSEARCH_MODEL) the default model,
# openai/clip-vit-base-patch32, is downloaded from the Hugging Face hub: that
# needs the internet. Offline, point --model at a local Hugging Face model
# folder (config.json, weights, tokenizer and preprocessor files).
# A catalogue belongs to one model: --reset re-indexes it for the one given.
# Files that are not images are passed over. --no-setup skips installing
# and building and runs $CLIPSEARCH (default build/clipsearch).
set -euo pipefail
cd "$(dirname "$0")/.."

model=${CLIPSEARCH_MODEL:-}
db=()
reset=()
setup=1
while [ $# -gt 0 ]; do
    case "$1" in
    --model) model=$2; shift 2 ;;
    --db) db=(--db "$2"); shift 2 ;;
    --reset) reset=(--reset); shift ;;
    --no-setup) setup=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "quickstart: unknown option $1" >&2; sed -n '6p' "$0" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { sed -n '6p' "$0" >&2; exit 2; }
images=$1
query=${2:-"a photo of a cat"}

cs=${CLIPSEARCH:-build/clipsearch}
if [ "$setup" -eq 1 ]; then
    scripts/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCS_TESTS=OFF >/dev/null
    cmake --build build -j"$(nproc)"
    cs=build/clipsearch
fi

if [ -z "$model" ]; then
    echo "== getting the default model (needs the internet; offline, use --model DIR)"
    "$cs" models download
    model=openai/clip-vit-base-patch32
fi

echo "== indexing $images"
"$cs" index --model "$model" "${db[@]}" "${reset[@]}" "$images" || [ $? -eq 3 ] # 3: some files skipped

echo "== text query: $query"
"$cs" search --model "$model" "${db[@]}" -k 5 "$query"

# the best match of the text query, a file the catalogue holds (NUL-ended,
# so that any file name comes through)
first=
IFS= read -r -d '' first < <("$cs" search --model "$model" "${db[@]}" -k 1 --paths -0 "$query") || true
if [ -z "$first" ]; then
    echo "== no image in the catalogue for an image query"
    exit 0
fi
echo "== image query: the images most like $first"
"$cs" similar "${db[@]}" -k 5 "$first"
