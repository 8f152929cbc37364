#!/bin/sh
# bench/reread.sh FILE... - drops each file from the page cache and reads
# it back in 4 MiB pieces, so that the cache holds it in 2 MiB folios: the
# state of weights clipsearch downloaded (hub/transfer.c writes them in
# such pieces) or read back from disk after a reboot. A file written in
# small pieces (numpy's writes of a made-up model, a copy) sits in small
# folios until the cache drops it, and every process that maps it then pays
# for each 4 KiB page on first touch (docs/performance.md, "Search at
# scale": the cold search's page-cache states). Run before a benchmark that
# maps a model, so that the figures do not depend on how the model's file
# was made. The files must be clean (written and synced) to be dropped.
set -eu
for f in "$@"; do
    [ -f "$f" ] || continue # an unmatched pattern
    dd if="$f" iflag=nocache count=0 status=none
    dd if="$f" of=/dev/null bs=4M status=none
done
