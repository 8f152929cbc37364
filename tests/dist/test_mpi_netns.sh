#!/usr/bin/env bash
# Three ranks as three hosts: each rank in its own network namespace (its own
# address and host name), the namespaces joined by veth pairs to a bridge in
# a fourth; Open MPI launches the remote ranks through an agent that runs
# `ip netns exec` where it would run ssh, and its TCP transport carries every
# message between the addresses. Indexing (by path and --ship) gives the
# same catalogue as one process. A folder hidden on two of the hosts (a
# mount of their own over it) makes their reads fail: those files are
# reported like broken ones, naming the rank and host, and a run with --ship
# (rank 0 reads) completes the catalogue. Skipped where namespaces cannot be
# made.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
. "$CS_SOURCE_DIR/tests/dist/mpi_lib.sh"
need_oracle
need_mpi
MODEL=$ORACLE/models/tiny
NET=10.77.$((RANDOM % 200 + 20))
P=csmpi$$
if ! ip netns add "${P}hub" 2>"$TMP/err"; then
    echo "SKIP: cannot make network namespaces here: $(cat "$TMP/err")"
    exit 77
fi
cleanup() {
    for n in hub 0 1 2; do ip netns del "$P$n" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
ip -n "${P}hub" link add br0 type bridge && ip -n "${P}hub" link set br0 up || fail "bridge"
for i in 0 1 2; do
    ip netns add "$P$i" || fail "namespace $i"
    ip link add "${P}a$i" type veth peer name "${P}b$i" || fail "veth $i"
    ip link set "${P}a$i" netns "$P$i" && ip link set "${P}b$i" netns "${P}hub" || fail "veth $i"
    ip -n "$P$i" addr add "$NET.$((i + 1))/24" dev "${P}a$i"
    ip -n "$P$i" link set "${P}a$i" up
    ip -n "$P$i" link set lo up
    ip -n "${P}hub" link set "${P}b$i" master br0
    ip -n "${P}hub" link set "${P}b$i" up
done

# the launch agent: "agent HOST COMMAND..." runs COMMAND in HOST's namespace,
# under a host name of its own, as ssh would run it on HOST
cat >"$TMP/agent.sh" <<SH
#!/bin/sh
host=\$1
shift
case "\$host" in
$NET.1) i=0 ;; $NET.2) i=1 ;; $NET.3) i=2 ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
# hosts 1 and 2 do not see $TMP/p/hidden: a mount of their own covers it
exec ip netns exec "$P\$i" unshare --uts --mount sh -c \
    "hostname h\$i; [ \$i = 0 ] || mount -t tmpfs none $TMP/p/hidden; \$*"
SH
chmod +x "$TMP/agent.sh"
printf '%s slots=1\n' "$NET.1" "$NET.2" "$NET.3" >"$TMP/hosts"

mkdir -p "$TMP/p/hidden"
for f in china.jpg chelsea.png coffee.png rocket.jpg coins.bmp flower.jpg retina.jpg; do
    cp "$ORACLE/images/$f" "$TMP/p/"
    { cat "$ORACLE/images/$f"; printf hidden; } >"$TMP/p/hidden/$f"
done
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/one.db" "$TMP/p" 2>"$TMP/err" ||
    fail "one process: $(cat "$TMP/err")"

hosts3() { # COMMAND ARGS as 3 ranks on the 3 "hosts", rank 0 on h0
    ip netns exec "${P}0" unshare --uts sh -c 'hostname h0; exec "$@"' sh \
        mpirun -np 3 --hostfile "$TMP/hosts" --mca plm_rsh_agent "$TMP/agent.sh" \
        --mca plm_rsh_no_tree_spawn 1 --mca btl self,tcp \
        --mca btl_tcp_if_include "$NET.0/24" --mca oob_tcp_if_include "$NET.0/24" \
        -x LSAN_OPTIONS -x ASAN_OPTIONS -x UBSAN_OPTIONS -x PATH \
        "$@"
}
# three hosts indeed: three names, three addresses
hosts3 sh -c 'echo "$(hostname) $(ip -4 -o addr show | grep -o "'"$NET"'\.[0-9]*")"' |
    sort >"$TMP/hosts_seen"
printf 'h%d %s\n' 0 "$NET.1" 1 "$NET.2" 2 "$NET.3" | cmp -s - "$TMP/hosts_seen" ||
    fail "the ranks are not on three hosts: $(cat "$TMP/hosts_seen")"

hosts3 "$CLIPSEARCH" index --threads 1 --batch 2 --model "$MODEL" --db "$TMP/net.db" "$TMP/p" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "3 hosts: exit $rc: $(tail -20 "$TMP/err")"
# what failed: only hidden files, each read on rank 1 or 2
grep '^  /' "$TMP/err" >"$TMP/failed" || true
if grep -v "/hidden/" "$TMP/failed" | grep -q .; then fail "3 hosts: $(cat "$TMP/failed")"; fi
if grep -Ev "\(rank [12] on h[12]\)" "$TMP/failed" | grep -q .; then
    fail "3 hosts: a failure without its rank and host: $(cat "$TMP/failed")"
fi
echo "files hosts 1 and 2 could not read: $(wc -l <"$TMP/failed") (reported)"
sqlite3 "$TMP/net.db" "select path from images where path not like '%/hidden/%'" | wc -l |
    grep -qx 7 || fail "3 hosts: a visible file is missing"
hosts3 "$CLIPSEARCH" index --threads 1 --batch 2 --ship --model "$MODEL" --db "$TMP/net.db" \
    "$TMP/p" >"$TMP/out" 2>"$TMP/err" || fail "3 hosts --ship: exit $?: $(tail -20 "$TMP/err")"
same_rows "$TMP/one.db" "$TMP/net.db" "3 hosts, then --ship"
done_test
