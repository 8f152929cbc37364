/* tests/fuzz/fuzz_checkpoint.c - libFuzzer harness for the checkpoint
 * readers: the first byte picks safetensors, PyTorch zip, a bare pickle or
 * config.json; the rest is the file. Build with -DCS_FUZZ=ON (clang), or
 * alone (it needs only the readers):
 *   clang -g -O1 -D_GNU_SOURCE \
 *     -fsanitize=fuzzer,address,undefined -Isrc -Iinclude tests/fuzz/fuzz_checkpoint.c \
 *     src/model/{tensors,safetensors,torchzip,pickle,config}.c src/core/{error,file}.c \
 *     -ljansson -lm -o fuzz_checkpoint
 *   ./fuzz_checkpoint -max_total_time=150 CORPUS
 * Seeds: 0x00 + a safetensors header, 0x01 + a torch.save zip, 0x02 + a
 * data.pkl, 0x03 + a config.json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"
#include "model/pickle.h"
#include "model/tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t which = data[0] % 4;
    /* a private, exactly sized copy so out-of-bounds reads are caught */
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, n);
    cs_error err;
    if (which == 0 || which == 1) {
        cs_tensor_table tab = {0};
        if (which == 0)
            cs_safetensors_parse(buf, n, "fuzz", &tab, &err);
        else
            cs_torchzip_parse(buf, n, "fuzz", &tab, &err);
        /* every tensor that was accepted must lie inside the buffer */
        for (int i = 0; i < tab.n; i++) {
            const cs_tensor *t = &tab.t[i];
            if (!t->owned && t->nbytes &&
                ((const uint8_t *)t->data < buf || (const uint8_t *)t->data + t->nbytes > buf + n))
                abort();
        }
        cs_tensors_free(&tab);
    } else if (which == 2) {
        cs_pkl_tensor *t = NULL;
        int nt = 0;
        cs_pickle_state_dict(buf, n, "fuzz", &t, &nt, &err);
        cs_pickle_free(t, nt);
    } else {
        cs_clip_config c;
        cs_config_parse((const char *)buf, n, "fuzz", &c, &err);
    }
    free(buf);
    return 0;
}
