#!/usr/bin/env bash
# bench/peak_rss.sh CMD [ARGS...] - runs CMD and prints the peak of its
# resident memory, and of the two parts Linux counts in it, sampled every
# 50 ms from /proc/PID/status: RssAnon (the heap: memory the program
# needs) and RssFile (mapped file pages: the index's codes, vectors read
# for re-ranking; clean page cache the kernel may take back). /usr/bin/time
# gives only the sum. CMD's output and exit status pass through; the
# figures go to stderr.
set -u
"$@" &
pid=$!
peak=0 anon=0 file=0
while kill -0 "$pid" 2> /dev/null; do
    read -r r a f < <(awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} /^RssFile/ {f = $2}
        END {print r + 0, a + 0, f + 0}' "/proc/$pid/status" 2> /dev/null)
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    [ "${a:-0}" -gt "$anon" ] && anon=$a
    [ "${f:-0}" -gt "$file" ] && file=$f
    sleep 0.05
done
wait "$pid"
rc=$?
echo "peak rss $((peak / 1024)) MiB (anon $((anon / 1024)) MiB, file $((file / 1024)) MiB; peaks of each, sampled every 50 ms)" >&2
exit $rc
