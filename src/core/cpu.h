/* core/cpu.h - which vector instructions this CPU (and OS) offer: the one
 * decision every kernel of the library follows (GEMM, attention, vector ops,
 * resize, the exact search). The build targets plain x86-64 (or aarch64);
 * only *_avx2.c and the target-attributed functions of the AVX-512 and
 * lower-precision kernels use more, and they run only when this says so.
 *
 * The level is detected once per process and can be lowered with the
 * environment variable CLIPSEARCH_CPU=generic|avx2|avx2-vnni|avx512, as on an older
 * CPU: to test each kernel family on one machine, or to time the fallbacks.
 * It is the only switch; every kernel reads it through these functions. */
#ifndef CS_CORE_CPU_H
#define CS_CORE_CPU_H

typedef enum cs_cpu_level {
    CS_CPU_GENERIC = 0, /* portable C (SSE2 on x86-64, NEON on aarch64 by the compiler) */
    CS_CPU_AVX2 = 1,    /* AVX2 + FMA + F16C */
    CS_CPU_AVX512 = 2   /* AVX-512 F (+ the AVX2 set) */
} cs_cpu_level;

/* The best level this machine runs, lowered by CLIPSEARCH_CPU; both read
 * once per process, so asking costs one load. */
cs_cpu_level cs_cpu_level_get(void);

/* Extensions beyond the level, for the lower-precision kernels
 * (gemm_lp.h): AVX512_BF16 (vdpbf16ps) and AVX-512 VNNI (vpdpbusd), each
 * only with the AVX-512 level and AVX-512 BW and VL; AVX-VNNI (vpdpbusd on
 * AVX registers) with the AVX2 level or above. CLIPSEARCH_CPU=avx512 (or
 * lower) turns them off, as on an AVX-512 CPU without them;
 * CLIPSEARCH_CPU=avx2-vnni is the AVX2 level with AVX-VNNI alone, as on an
 * Intel client CPU of 2021 on. */
typedef enum cs_cpu_feature { CS_CPU_BF16 = 1, CS_CPU_VNNI = 2, CS_CPU_AVXVNNI = 4 } cs_cpu_feature;
int cs_cpu_has(cs_cpu_feature f);

/* Reads CLIPSEARCH_CPU again (for tests and benchmarks that change it while
 * they run; not while other threads compute). */
void cs_cpu_level_reload(void);

/* "generic", "avx2" or "avx512". */
const char *cs_cpu_level_name(cs_cpu_level level);

#endif
