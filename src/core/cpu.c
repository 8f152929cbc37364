/* core/cpu.c - runtime CPU feature detection, once per process (see cpu.h). */
#include "core/cpu.h"

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

/* AVX512_VNNI (CPUID.7.0:ECX bit 11) and AVX512_BF16 (CPUID.7.1:EAX bit 5),
 * read directly for the same reason; their registers are AVX-512's. */
static int detect_avx512_features(void) {
    unsigned a, b, c, d, f = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11))) f |= CS_CPU_VNNI;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5))) f |= CS_CPU_BF16;
    return (int)f;
}

/* AVX-VNNI (CPUID.7.1:EAX bit 4): vpdpbusd on AVX registers. */
static int detect_avxvnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4)) ? CS_CPU_AVXVNNI : 0;
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
static _Atomic int level_in_use = -1, features_in_use = -1;

/* Sets both from the CPU and CLIPSEARCH_CPU. */
static void load_from_env(void) {
    cs_cpu_level level = detect();
    int features = 0;
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
    /* (the kernels also use AVX-512 BW and VL, which every CPU with either
     * extension has) */
    if (level == CS_CPU_AVX512 && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        features = detect_avx512_features();
    if (level >= CS_CPU_AVX2) features |= detect_avxvnni();
#endif
    const char *force = getenv("CLIPSEARCH_CPU");
    if (force && !strcmp(force, "generic"))
        level = CS_CPU_GENERIC;
    else if (force && (!strcmp(force, "avx2") || !strcmp(force, "avx2-vnni")) &&
             level > CS_CPU_AVX2)
        level = CS_CPU_AVX2;
    if (force && (!strcmp(force, "generic") || !strcmp(force, "avx2") || !strcmp(force, "avx512")))
        features = 0; /* a named level is that level alone */
    if (force && !strcmp(force, "avx2-vnni"))
        features &= level == CS_CPU_AVX2 ? CS_CPU_AVXVNNI : 0; /* AVX2 and AVX-VNNI alone */
    atomic_store_explicit(&features_in_use, features, memory_order_relaxed);
    atomic_store_explicit(&level_in_use, (int)level, memory_order_relaxed);
}

cs_cpu_level cs_cpu_level_get(void) {
    int level = atomic_load_explicit(&level_in_use, memory_order_relaxed);
    if (level < 0) {
        load_from_env();
        level = atomic_load_explicit(&level_in_use, memory_order_relaxed);
    }
    return (cs_cpu_level)level;
}

int cs_cpu_has(cs_cpu_feature f) {
    int have = atomic_load_explicit(&features_in_use, memory_order_relaxed);
    if (have < 0) {
        load_from_env();
        have = atomic_load_explicit(&features_in_use, memory_order_relaxed);
    }
    return (have & (int)f) != 0;
}

void cs_cpu_level_reload(void) {
    load_from_env();
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
