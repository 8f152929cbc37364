#!/usr/bin/env bash
# Every format and layout we read, made at test time, decoded and cropped
# identically to Pillow (see pillow_check.py). Needs /usr/bin/python3 with
# Pillow and numpy (Debian's python3-pil, python3-numpy) and the oracle's tiny
# model folder for its preprocessor_config.json; skipped without them.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
if ! /usr/bin/python3 -c "import PIL, numpy" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 with PIL and numpy not found"
    exit 77
fi
/usr/bin/python3 "$CS_SOURCE_DIR/tests/image/pillow_check.py" "$CLIPSEARCH" \
    "$ORACLE/models/tiny" "$TMP" || fail "some images decode differently from Pillow"
done_test
