#!/usr/bin/env bash
# `clipsearch models download` against a local stand-in for the Hugging Face
# hub (hub_server.py, 127.0.0.1 only) serving the oracle's tiny model in the
# hub's URL layout: byte-exact download, resume within a run and across
# runs, a server without Range support, corrupted and wrong-sized files
# caught and deleted, HF_ENDPOINT and HF_TOKEN, pytorch_model.bin and
# sharded repos, and the Hugging Face cache found without any network.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SERVER="$CS_SOURCE_DIR/tests/hub/hub_server.py"
SRC=$ORACLE/models/tiny
[ -f "$SRC/model.safetensors" ] || { echo "SKIP: $SRC has no model"; exit 77; }

# Nothing but 127.0.0.1, and none of the caller's caches or tokens.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset XDG_CACHE_HOME HF_HOME HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN HF_TOKEN_PATH \
    HF_ENDPOINT HF_HUB_OFFLINE CLIPSEARCH_CACHE CLIPSEARCH_MODEL
export HOME=$TMP/home
mkdir -p "$HOME"

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=
}
trap 'stop_server; rm -rf "$TMP"' EXIT

# start_server ROOT REPO [fault options]: serves ROOT as REPO, sets
# $HF_ENDPOINT and a fresh request log $LOG.
start_server() {
    stop_server
    local root=$1 repo=$2
    shift 2
    LOG=$TMP/requests.$RANDOM.log
    rm -f "$TMP/port"
    "$PY" "$SERVER" --root "$root" --repo "$repo" --port-file "$TMP/port" --log "$LOG" \
        --lifetime 300 "$@" &
    SERVER_PID=$!
    for _ in $(seq 300); do
        [ -s "$TMP/port" ] && break
        sleep 0.1
    done
    [ -s "$TMP/port" ] || fail "the test hub did not start"
    export HF_ENDPOINT=http://127.0.0.1:$(cat "$TMP/port")
    touch "$LOG"
}

cs() { timeout 120 "$CLIPSEARCH" "$@"; }

# same_files SRC DIR: every file of SRC is in DIR byte for byte, and DIR
# holds nothing else but our manifest and lock.
same_files() {
    local f
    for f in "$1"/*; do
        cmp -s "$f" "$2/$(basename "$f")" || fail "$2/$(basename "$f") differs from $f"
    done
    [ "$(ls "$1" | sort)" = "$(ls "$2" | sort)" ] || fail "$2 holds other files: $(ls "$2")"
    [ -f "$2/.clipsearch-download.json" ] || fail "$2 has no manifest"
}

# ---- 1. a full download, byte for byte ------------------------------------------------
start_server "$SRC" test-org/tiny
out=$(cs models download test-org/tiny --cache "$TMP/c1" 2>"$TMP/err") ||
    fail "download failed: $(cat "$TMP/err")"
[ "$out" = "$TMP/c1/test-org--tiny" ] || fail "download printed '$out'"
same_files "$SRC" "$out"
grep -q '"path": "/api/models/test-org/tiny/revision/main?blobs=true"' "$LOG" ||
    fail "no file list request: $(cat "$LOG")"
commit=$(sed -n 's/.*"commit": "\([0-9a-f]*\)".*/\1/p' "$out/.clipsearch-download.json")
[ ${#commit} -eq 40 ] || fail "the manifest has no commit"
grep -q "/test-org/tiny/resolve/$commit/model.safetensors" "$LOG" ||
    fail "files not fetched at the listed commit"
grep -q '"path": "/lfs-cdn/' "$LOG" || fail "the LFS redirect was not followed"
! grep -q '"range": "' "$LOG" || fail "a fresh download sent a Range"
p=$(cs models path test-org/tiny --cache "$TMP/c1") || fail "models path failed"
[ "$p" = "$out" ] || fail "models path says '$p', want '$out'"
list=$(cs models list --cache "$TMP/c1") || fail "models list failed"
contains "$list" "test-org/tiny" "models list names the model"
contains "$list" "clipsearch" "models list tells the source"

# A second download fetches no file again.
: >"$LOG"
cs models download test-org/tiny --cache "$TMP/c1" >/dev/null 2>"$TMP/err" ||
    fail "second download failed: $(cat "$TMP/err")"
! grep -q '/resolve/' "$LOG" || fail "second download fetched files again: $(cat "$LOG")"
contains "$(cat "$TMP/err")" "already present" "second download reports kept files"
# --force fetches them all again.
: >"$LOG"
cs models download test-org/tiny --cache "$TMP/c1" --force -q >/dev/null || fail "--force failed"
[ "$(grep -c '/resolve/' "$LOG")" -eq 8 ] || fail "--force fetched $(grep -c /resolve/ "$LOG") files"
same_files "$SRC" "$out"

# ---- 2. an interrupted transfer resumes within the run ------------------------------------
start_server "$SRC" test-org/tiny --fail-once model.safetensors:5000000
out=$(cs models download test-org/tiny --cache "$TMP/c2" 2>"$TMP/err") ||
    fail "download with one interruption failed: $(cat "$TMP/err")"
same_files "$SRC" "$out"
grep -q '"/lfs-cdn/.*"range": "bytes=5000000-"' "$LOG" ||
    fail "no Range request after the interruption: $(cat "$LOG")"
contains "$(cat "$TMP/err")" "resumed" "the resume is reported"

# ---- 3. ... and across runs ------------------------------------------------------------
start_server "$SRC" test-org/tiny --fail-once model.safetensors:3000000
cs models download test-org/tiny --cache "$TMP/c3" --retries 0 >/dev/null 2>"$TMP/err" &&
    fail "download succeeded although the transfer was cut and retries are 0"
part=$TMP/c3/test-org--tiny/model.safetensors.part
[ "$(stat -c %s "$part" 2>/dev/null)" = 3000000 ] || fail "the partial file was not kept"
[ ! -e "$TMP/c3/test-org--tiny/model.safetensors" ] || fail "an incomplete file was put in place"
cs models path test-org/tiny --cache "$TMP/c3" >/dev/null 2>&1 &&
    fail "an unfinished download resolves as a model"
: >"$LOG"
out=$(cs models download test-org/tiny --cache "$TMP/c3" 2>"$TMP/err") ||
    fail "resumed download failed: $(cat "$TMP/err")"
same_files "$SRC" "$out"
grep -q '"range": "bytes=3000000-"' "$LOG" || fail "the second run did not resume: $(cat "$LOG")"
[ "$(grep -c '/resolve/' "$LOG")" -eq 1 ] || fail "the second run fetched finished files again"
[ ! -e "$part" ] || fail "the .part file was left behind"

# The checks below need no 16 MB of weights: a light copy of the repo (the
# small files as they are, 2 MB of the weights) keeps the test quick.
LIGHT=$TMP/light
mkdir -p "$LIGHT"
cp "$SRC"/*.json "$SRC/merges.txt" "$LIGHT/"
head -c 2000000 "$SRC/model.safetensors" >"$LIGHT/model.safetensors"

# ---- 3b. a part left by another version of the file: the resume fails its
# check, and one fresh transfer replaces it ---------------------------------------------------
if [ -f "$ORACLE/models/tiny-f16/model.safetensors" ]; then
    start_server "$SRC" test-org/tiny --fail-once model.safetensors:3000000
    cs models download test-org/tiny --cache "$TMP/c3b" --retries 0 >/dev/null 2>&1 &&
        fail "download succeeded although the transfer was cut"
    start_server "$ORACLE/models/tiny-f16" test-org/tiny
    out=$(cs models download test-org/tiny --cache "$TMP/c3b" 2>"$TMP/err") ||
        fail "download over a stale part failed: $(cat "$TMP/err")"
    same_files "$ORACLE/models/tiny-f16" "$out"
    grep -q '"range": "bytes=3000000-"' "$LOG" || fail "the stale part was not tried"
    contains "$(cat "$TMP/err")" "sha256 mismatch" "the stale part's failure is reported"
fi

# ---- 4. a server that ignores Range: the transfer starts over ------------------------------
start_server "$LIGHT" test-org/tiny --no-range --fail-once model.safetensors:1000000
out=$(cs models download test-org/tiny --cache "$TMP/c4" 2>"$TMP/err") ||
    fail "download from a server without Range failed: $(cat "$TMP/err")"
same_files "$LIGHT" "$out"
[ "$(grep -c '"path": "/lfs-cdn/' "$LOG")" -eq 2 ] || fail "the transfer was not tried again"

# ---- 5. a corrupted LFS file: sha256 mismatch, reported, deleted ------------------------------
start_server "$SRC" test-org/tiny --corrupt model.safetensors
cs models download test-org/tiny --cache "$TMP/c5" >/dev/null 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "a corrupted file exits $rc, want 1"
err=$(cat "$TMP/err")
contains "$err" "model.safetensors: sha256 mismatch" "the corruption is named"
contains "$err" "$(sha256sum "$SRC/model.safetensors" | cut -c1-64)" "the expected sum is shown"
ls "$TMP/c5/test-org--tiny" | grep -q model.safetensors && fail "the corrupted file was kept"
cs models path test-org/tiny --cache "$TMP/c5" >/dev/null 2>&1 && fail "a failed download resolves"

# ---- 6. a file of the wrong size (no sum: a regular git file) ---------------------------------
start_server "$LIGHT" test-org/tiny --pad config.json
cs models download test-org/tiny --cache "$TMP/c6" >/dev/null 2>"$TMP/err" &&
    fail "a wrong-sized file was accepted"
contains "$(cat "$TMP/err")" "config.json: size mismatch" "the size mismatch is named"
ls "$TMP/c6/test-org--tiny" | grep -q config.json && fail "the wrong-sized file was kept"

# ---- 6a. a file whose body never ends: cut off past the announced size,
# not written to disk without bound ------------------------------------------------------------
start_server "$LIGHT" test-org/tiny --endless config.json
timeout 60 "$CLIPSEARCH" models download test-org/tiny --cache "$TMP/c6a" >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 124 ] && fail "an endless body was downloaded without end"
[ $rc -eq 0 ] && fail "an endless body was accepted"
contains "$(cat "$TMP/err")" "config.json: size mismatch" "the oversized body is named"
ls "$TMP/c6a/test-org--tiny" 2>/dev/null | grep -q config.json && fail "the oversized file was kept"

# ---- 6b. a hub that gives no sizes or sums in its file list: the LFS
# headers (X-Linked-Size, X-Linked-Etag) still check the weights -------------------------------
start_server "$LIGHT" test-org/tiny --no-blobs --fail-once model.safetensors:1000000
out=$(cs models download test-org/tiny --cache "$TMP/c6b" 2>"$TMP/err") ||
    fail "download without blob metadata failed: $(cat "$TMP/err")"
same_files "$LIGHT" "$out"
grep -q '"range": "bytes=1000000-"' "$LOG" || fail "no resume without blob metadata"
start_server "$LIGHT" test-org/tiny --no-blobs --corrupt model.safetensors
cs models download test-org/tiny --cache "$TMP/c6c" >/dev/null 2>"$TMP/err" &&
    fail "a corrupted file was accepted without blob metadata"
contains "$(cat "$TMP/err")" "model.safetensors: sha256 mismatch" "X-Linked-Etag checks the file"

# ---- 7. HF_TOKEN, and the token file ------------------------------------------------------------
start_server "$LIGHT" test-org/tiny --require-token s3cret --cdn-host localhost
cs models download test-org/tiny --cache "$TMP/c7" >/dev/null 2>"$TMP/err" &&
    fail "a gated repo downloaded without a token"
contains "$(cat "$TMP/err")" "401" "the refusal is reported"
contains "$(cat "$TMP/err")" "HF_TOKEN" "the message says how to get access"
HF_TOKEN=s3cret cs models download test-org/tiny --cache "$TMP/c7" -q >/dev/null 2>"$TMP/err" ||
    fail "download with HF_TOKEN failed: $(cat "$TMP/err")"
grep -q '"auth": "Bearer s3cret"' "$LOG" || fail "HF_TOKEN was not sent as a Bearer token"
grep -q '"path": "/lfs-cdn/' "$LOG" || fail "the CDN redirect was not followed"
! grep '"path": "/lfs-cdn/' "$LOG" | grep -q s3cret || fail "the token went to the CDN host"
mkdir -p "$TMP/hfhome" && echo s3cret >"$TMP/hfhome/token"
HF_HOME=$TMP/hfhome cs models download test-org/tiny --cache "$TMP/c7b" -q >/dev/null 2>"$TMP/err" ||
    fail "download with the token file failed: $(cat "$TMP/err")"

# ---- 8. HF_ENDPOINT: a mirror with a trailing slash; an unreachable one ---------------------------
start_server "$LIGHT" test-org/tiny
HF_ENDPOINT=$HF_ENDPOINT/ cs models download test-org/tiny --cache "$TMP/c8" -q >/dev/null ||
    fail "an endpoint with a trailing slash failed"
grep -q '"path": "/api/models/test-org/tiny/revision/main' "$LOG" || fail "HF_ENDPOINT not used"
port=$(cat "$TMP/port")
stop_server
HF_ENDPOINT=http://127.0.0.1:$port cs models download test-org/tiny --cache "$TMP/c8b" \
    >/dev/null 2>"$TMP/err" && fail "download from a closed port succeeded"
contains "$(cat "$TMP/err")" "127.0.0.1:$port" "the failing endpoint is named"
HF_HUB_OFFLINE=1 cs models download test-org/tiny --cache "$TMP/c8b" >/dev/null 2>"$TMP/err" &&
    fail "HF_HUB_OFFLINE did not stop the download"

# ---- 9. unknown repo and revision --------------------------------------------------------
start_server "$LIGHT" test-org/tiny
cs models download test-org/nope --cache "$TMP/c9" >/dev/null 2>"$TMP/err" &&
    fail "an unknown repo downloaded"
contains "$(cat "$TMP/err")" "test-org/nope: no such model" "unknown repo"
cs models download test-org/tiny --revision v9 --cache "$TMP/c9" >/dev/null 2>"$TMP/err" &&
    fail "an unknown revision downloaded"
contains "$(cat "$TMP/err")" "test-org/tiny: no revision 'v9'" "unknown revision"
cs models download "../etc" --cache "$TMP/c9" >/dev/null 2>&1 && fail "a bad repo id was accepted"

# ---- 9a. a bare name is also looked up as sentence-transformers/NAME (as
# sentence-transformers does: the Python tutorial's "clip-ViT-B-32") ---------------------------------------
start_server "$LIGHT" sentence-transformers/tiny-st
out=$(cs models download tiny-st --cache "$TMP/c9a" 2>"$TMP/err") ||
    fail "bare name download failed: $(cat "$TMP/err")"
[ "$out" = "$TMP/c9a/sentence-transformers--tiny-st" ] || fail "bare name downloaded to '$out'"
[ "$(ls "$TMP/c9a")" = sentence-transformers--tiny-st ] || fail "stray folders: $(ls "$TMP/c9a")"
p=$(cs models path tiny-st --cache "$TMP/c9a") || fail "bare name does not resolve"
[ "$p" = "$out" ] || fail "bare name resolves to '$p'"

# ---- 9b. a repo that is not a CLIP model is refused before its weights ---------------------
mkdir -p "$TMP/bert"
echo '{"model_type": "bert", "hidden_size": 8}' >"$TMP/bert/config.json"
head -c 100000 /dev/urandom >"$TMP/bert/model.safetensors"
start_server "$TMP/bert" google/bert-ish
cs models download google/bert-ish --cache "$TMP/c9b" >/dev/null 2>"$TMP/err" &&
    fail "a BERT repo was downloaded as a CLIP model"
contains "$(cat "$TMP/err")" "google/bert-ish is a 'bert' model, not CLIP" "non-CLIP repo"
! grep -q 'model.safetensors' "$LOG" || fail "the weights of a non-CLIP repo were fetched"

# ---- 10. a repo with only pytorch_model.bin (like openai/clip-vit-base-patch32's main) --------
if [ -f "$ORACLE/models/tiny-bin/pytorch_model.bin" ]; then
    start_server "$ORACLE/models/tiny-bin" openai/tiny-bin
    out=$(cs models download openai/tiny-bin --cache "$TMP/c10" 2>"$TMP/err") ||
        fail "pytorch_model.bin download failed: $(cat "$TMP/err")"
    same_files "$ORACLE/models/tiny-bin" "$out"
fi

# ---- 11. sharded safetensors, in a sentence-transformers layout --------------------------------
repo=$TMP/st-repo
mkdir -p "$repo/0_CLIPModel"
cp "$SRC/config.json" "$SRC/preprocessor_config.json" "$SRC/vocab.json" "$SRC/merges.txt" \
    "$repo/0_CLIPModel/"
echo '{"modules": []}' >"$repo/modules.json"
head -c 300000 /dev/urandom >"$repo/0_CLIPModel/model-00001-of-00002.safetensors"
head -c 200000 /dev/urandom >"$repo/0_CLIPModel/model-00002-of-00002.safetensors"
cat >"$repo/0_CLIPModel/model.safetensors.index.json" <<'JSON'
{"metadata": {"total_size": 500000},
 "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                "b.weight": "model-00002-of-00002.safetensors",
                "c.weight": "model-00001-of-00002.safetensors"}}
JSON
start_server "$repo" sentence-transformers/tiny
out=$(cs models download sentence-transformers/tiny --cache "$TMP/c11" 2>"$TMP/err") ||
    fail "sharded download failed: $(cat "$TMP/err")"
same_files "$repo/0_CLIPModel" "$out"
stop_server

# ---- 11b. download of a model the Hugging Face cache already has at the
# revision's commit: no file is fetched, its snapshot is the answer ------------------------------
light_commit=$(sed -n 's/.*"commit": "\([0-9a-f]*\)".*/\1/p' "$TMP/c4/test-org--tiny/.clipsearch-download.json")
[ ${#light_commit} -eq 40 ] || fail "no commit in the light download's manifest"
lsnap=$TMP/hf2/hub/models--fake-org--light/snapshots/$light_commit
mkdir -p "$lsnap"
cp "$LIGHT"/* "$lsnap/"
start_server "$LIGHT" fake-org/light
out=$(HF_HOME=$TMP/hf2 cs models download fake-org/light --cache "$TMP/c11b" 2>"$TMP/err") ||
    fail "download of an HF-cached model failed: $(cat "$TMP/err")"
[ "$out" = "$lsnap" ] || fail "HF-cached model downloaded to '$out', want '$lsnap'"
! grep -q '/resolve/' "$LOG" || fail "files of an HF-cached model were fetched"
contains "$(cat "$TMP/err")" "already in the Hugging Face cache" "HF-cached download says so"
[ ! -e "$TMP/c11b" ] || fail "an HF-cached model left a folder in our cache"
# A snapshot missing a file is not enough: our own copy is downloaded.
rm "$lsnap/merges.txt"
out=$(HF_HOME=$TMP/hf2 cs models download fake-org/light --cache "$TMP/c11b" -q) ||
    fail "download next to an incomplete HF snapshot failed"
same_files "$LIGHT" "$out"

# ---- 12. the Hugging Face cache, found without any network ---------------------------------
# huggingface_hub's layout: blobs named by etag, snapshots of symlinks, refs.
export HF_ENDPOINT=http://127.0.0.1:9 # nothing listens there
hub=$TMP/hf/hub/models--fake-org--tiny
snap=$hub/snapshots/0123456789abcdef0123456789abcdef01234567
mkdir -p "$hub/blobs" "$hub/refs" "$snap"
for f in "$SRC"/*; do
    sum=$(sha256sum "$f" | cut -c1-64)
    cp "$f" "$hub/blobs/$sum"
    ln -s "../../blobs/$sum" "$snap/$(basename "$f")"
done
printf 0123456789abcdef0123456789abcdef01234567 >"$hub/refs/main"
p=$(HF_HOME=$TMP/hf cs models path fake-org/tiny 2>"$TMP/err") ||
    fail "the HF cache model was not found: $(cat "$TMP/err")"
[ "$p" = "$snap" ] || fail "HF cache resolves to '$p', want '$snap'"
p=$(HF_HUB_CACHE=$TMP/hf/hub HF_HOME=$TMP/elsewhere cs models path fake-org/tiny) ||
    fail "HF_HUB_CACHE not honoured"
[ "$p" = "$snap" ] || fail "HF_HUB_CACHE resolves to '$p'"
p=$(XDG_CACHE_HOME=$TMP/xdg cs models path fake-org/tiny 2>/dev/null) &&
    fail "found the model without the cache variables: $p"
mkdir -p "$TMP/xdg" && ln -s "$TMP/hf" "$TMP/xdg/huggingface"
p=$(XDG_CACHE_HOME=$TMP/xdg cs models path fake-org/tiny) || fail "XDG_CACHE_HOME/huggingface not searched"
bert=$TMP/hf/hub/models--google--bert-ish/snapshots/1111
mkdir -p "$bert" "$TMP/hf/hub/models--google--bert-ish/refs"
cp "$TMP/bert/config.json" "$TMP/bert/model.safetensors" "$bert/"
printf 1111 >"$TMP/hf/hub/models--google--bert-ish/refs/main"
list=$(HF_HOME=$TMP/hf cs models list) || fail "models list failed"
contains "$list" "fake-org/tiny" "models list shows the HF cache"
contains "$list" "huggingface" "models list tells the source"
case "$list" in *bert-ish*) fail "models list shows a non-CLIP model: $list" ;; esac
# A snapshot whose weights were never fetched does not count.
rm "$snap/model.safetensors"
HF_HOME=$TMP/hf cs models path fake-org/tiny >/dev/null 2>"$TMP/err" &&
    fail "a snapshot without weights resolved"
err=$(cat "$TMP/err")
contains "$err" "fake-org/tiny is not downloaded" "not-found message"
contains "$err" "clipsearch models download fake-org/tiny" "not-found message says what to do"
contains "$err" "--model DIR" "not-found message offers a local folder"
# A local folder is taken as it is; CLIPSEARCH_MODEL is what `path` uses
# without a NAME, and the default model without either.
p=$(cs models path "$SRC") || fail "a folder did not resolve"
[ "$p" = "$SRC" ] || fail "a folder resolves to '$p'"
p=$(CLIPSEARCH_MODEL=$SRC cs models path) || fail "CLIPSEARCH_MODEL did not resolve"
[ "$p" = "$SRC" ] || fail "CLIPSEARCH_MODEL resolves to '$p'"
# No server at all (nothing listens on port 1): our words and what to do
# instead, not libcurl's bare text.
HF_ENDPOINT=http://127.0.0.1:1 cs models download test-org/tiny --cache "$TMP/c-off" \
    >/dev/null 2>"$TMP/err" && fail "a download from nowhere succeeded"
err=$(cat "$TMP/err")
contains "$err" "no connection" "an unreachable hub is named as such"
contains "$err" "--model DIR" "the offline message offers a local folder"
contains "$err" "HF_ENDPOINT" "the offline message names the mirror setting"
cs models path >/dev/null 2>"$TMP/err" && fail "the default model resolved from an empty cache"
contains "$(cat "$TMP/err")" "clipsearch models download openai/clip-vit-base-patch32" \
    "the default model's message"
done_test
