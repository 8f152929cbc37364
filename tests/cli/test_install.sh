#!/usr/bin/env bash
# `cmake --install` gives a usable library: header, shared and static
# library, program and a relocatable pkg-config file; a C program builds
# against it with pkg-config alone and embeds a text.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle

cmake --install "$CS_BUILD_DIR" --prefix "$TMP/prefix" >"$TMP/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -5 "$TMP/install.log")"
for f in bin/clipsearch include/clipsearch.h include/clipsearch/model.h \
    lib/libclipsearch.a lib/pkgconfig/clipsearch.pc; do
    [ -e "$TMP/prefix/$f" ] || fail "not installed: $f"
done
ls "$TMP/prefix"/lib/libclipsearch.so* >/dev/null 2>&1 || fail "no shared library installed"

cat >"$TMP/example.c" <<'C'
#include <clipsearch.h>
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) {
    cs_error err;
    cs_model *model;
    if (argc < 2 || cs_model_open(argv[1], NULL, &model, &err) != CS_OK) return 1;
    cs_model_info info;
    cs_model_get_info(model, &info);
    float emb[4096];
    const char *texts[] = {"a dog on a beach"};
    if (info.embed_dim > 4096 || cs_embed_texts(model, texts, 1, 0, emb, &err) != CS_OK) return 1;
    double norm = 0;
    for (int i = 0; i < info.embed_dim; i++) norm += (double)emb[i] * emb[i];
    printf("%d %.4f\n", info.embed_dim, sqrt(norm));
    cs_model_close(model);
    return 0;
}
C
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs clipsearch) || fail "pkg-config does not know clipsearch"
san=""
grep -q "^CS_SANITIZE:BOOL=ON" "$CS_BUILD_DIR/CMakeCache.txt" && san="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $san "$TMP/example.c" -o "$TMP/example" $flags -lm \
    -Wl,-rpath,"$TMP/prefix/lib" 2>"$TMP/cc.log" || fail "example does not build: $(cat "$TMP/cc.log")"
out=$(ASAN_OPTIONS=detect_leaks=0 "$TMP/example" "$CS_ORACLE/models/tiny") || fail "example failed"
[ "$out" = "48 1.0000" ] || fail "example printed '$out', want '48 1.0000' (dim, norm)"
ldd "$TMP/example" | grep -q "$TMP/prefix/lib/libclipsearch.so" || fail "example is not linked to the installed shared library"
done_test
