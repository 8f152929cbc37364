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

cs_cpu_level cs_cpu_level_get(void) {
    /* Detected once per process: CPUID traps to the hypervisor in a virtual
     * machine (microseconds), and this is asked per GEMM and per attention
     * head. An atomic, so threads racing on the first call are fine (they
     * all store the same value). */
    static _Atomic int cached = -1;
    int detected = atomic_load_explicit(&cached, memory_order_relaxed);
    if (detected < 0) {
        detected = (int)detect();
        atomic_store_explicit(&cached, detected, memory_order_relaxed);
    }
    cs_cpu_level level = (cs_cpu_level)detected;
    const char *force = getenv("CLIPSEARCH_CPU");
    if (force && !strcmp(force, "generic"))
        level = CS_CPU_GENERIC;
    else if (force && !strcmp(force, "avx2") && level > CS_CPU_AVX2)
        level = CS_CPU_AVX2;
    return level;
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
