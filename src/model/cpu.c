/* model/cpu.c - runtime CPU feature detection (see cpu.h). */
#include "model/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
#include <cpuid.h>

/* F16C (CPUID.1:ECX bit 29): clang 14's __builtin_cpu_supports does not
 * know the name. Its registers are the AVX ones, whose OS support the avx2
 * check below already covers. */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static cs_cpu_level detect(void) {
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
    /* libgcc's checks include the OS's XSAVE support (XCR0) for the wider
     * registers, so a yes here means the instructions really run. */
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    if (avx2 && __builtin_cpu_supports("avx512f")) return CS_CPU_AVX512;
    if (avx2) return CS_CPU_AVX2;
#endif
    return CS_CPU_GENERIC;
}

/* The level in use: detected once per process (CPUID traps to the
 * hypervisor in a virtual machine, microseconds), then lowered by
 * CLIPSEARCH_CPU, read at the same time. Asked per GEMM, per attention head
 * and per row of an activation, so it must cost a load: reading the
 * environment every time was ~1% of the image encoder (getenv + strncmp in
 * perf). An atomic, so threads racing on the first call are fine (they all
 * store the same value). */
static _Atomic int level_in_use = -1;

static cs_cpu_level level_from_env(void) {
    cs_cpu_level level = detect();
    const char *force = getenv("CLIPSEARCH_CPU");
    if (force && !strcmp(force, "generic"))
        level = CS_CPU_GENERIC;
    else if (force && !strcmp(force, "avx2") && level > CS_CPU_AVX2)
        level = CS_CPU_AVX2;
    return level;
}

cs_cpu_level cs_cpu_level_get(void) {
    int level = atomic_load_explicit(&level_in_use, memory_order_relaxed);
    if (level < 0) {
        level = (int)level_from_env();
        atomic_store_explicit(&level_in_use, level, memory_order_relaxed);
    }
    return (cs_cpu_level)level;
}

void cs_cpu_level_reload(void) {
    atomic_store_explicit(&level_in_use, (int)level_from_env(), memory_order_relaxed);
}

const char *cs_cpu_level_name(cs_cpu_level level) {
    switch (level) {
    case CS_CPU_AVX512:
        return "avx512";
    case CS_CPU_AVX2:
        return "avx2";
    default:
        return "generic";
    }
}
