#!/usr/bin/env bash
# Pillow's own test images (../shared/corpus/pillow, or $CS_PILLOW_CORPUS),
# damaged ones included, decoded and cropped as Debian's Pillow does them
# (see pillow_corpus.py). Skipped without the corpus, without the oracle's
# tiny model (for its preprocessor_config.json) or without /usr/bin/python3
# with Pillow and numpy.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
CORPUS=${CS_PILLOW_CORPUS:-$ORACLE/../corpus/pillow}
if [ ! -d "$CORPUS" ]; then
    echo "SKIP: Pillow's test images not found at $CORPUS (set CS_PILLOW_CORPUS)"
    exit 77
fi
if ! /usr/bin/python3 -c "import PIL, numpy" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 with PIL and numpy not found"
    exit 77
fi
/usr/bin/python3 "$CS_SOURCE_DIR/tests/image/pillow_corpus.py" "$CLIPSEARCH" \
    "$ORACLE/models/tiny" "$CORPUS" "$TMP" || fail "Pillow's test images differ from Pillow"
done_test
