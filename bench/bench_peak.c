/* bench/bench_peak.c - this core's clock and peak arithmetic rate at each
 * precision, measured with tight loops of independent instructions (what
 * the GEMM kernels could reach at best), for docs/performance.md.
 *
 *   bench_peak
 *
 * Clock: a chain of dependent integer adds runs one add per cycle on every
 * x86 core of the last decade, so adds per second is cycles per second.
 * Peaks: 12 independent accumulators (more than latency x throughput) of
 * vfmadd231ps (F32, 2 FLOP a lane), vdpbf16ps (BF16 pairs, 4 FLOP a lane)
 * and vpdpbusd (int8 quads, 8 OP a lane), each on zmm registers. Best of 5
 * runs of ~0.1 s, per CPU-second of the thread. One thread: multiply by
 * the cores for the machine. */
#include <stdio.h>
#include <time.h>

#include "core/cpu.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define N_ITER 20000000L

static double clock_hz(void) {
    double best = 0;
    for (int r = 0; r < 5; r++) {
        unsigned long x = 0;
        double t0 = now();
        for (long i = 0; i < N_ITER; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
        double hz = 4.0 * N_ITER / (now() - t0);
        if (hz > best) best = hz;
    }
    return best;
}

#if defined(__x86_64__)
#define TWELVE(op)                                                                                 \
    op " %%zmm0, %%zmm1, %%zmm2\n\t" op " %%zmm0, %%zmm1, %%zmm3\n\t" op                           \
       " %%zmm0, %%zmm1, %%zmm4\n\t" op " %%zmm0, %%zmm1, %%zmm5\n\t" op                           \
       " %%zmm0, %%zmm1, %%zmm6\n\t" op " %%zmm0, %%zmm1, %%zmm7\n\t" op                           \
       " %%zmm0, %%zmm1, %%zmm8\n\t" op " %%zmm0, %%zmm1, %%zmm9\n\t" op                           \
       " %%zmm0, %%zmm1, %%zmm10\n\t" op " %%zmm0, %%zmm1, %%zmm11\n\t" op                         \
       " %%zmm0, %%zmm1, %%zmm12\n\t" op " %%zmm0, %%zmm1, %%zmm13\n\t"

/* instructions per second of 12 independent streams of one instruction */
#define PEAK(name, op, isa)                                                                        \
    __attribute__((target(isa))) static double name(void) {                                        \
        double best = 0;                                                                           \
        for (int r = 0; r < 5; r++) {                                                              \
            double t0 = now();                                                                     \
            for (long i = 0; i < N_ITER / 8; i++)                                                  \
                __asm__ volatile(TWELVE(op)::                                                      \
                                     : "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",     \
                                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13");                \
            double ips = 12.0 * (N_ITER / 8) / (now() - t0);                                       \
            if (ips > best) best = ips;                                                            \
        }                                                                                          \
        return best;                                                                               \
    }
PEAK(peak_fma, "vfmadd231ps", "avx512f")
PEAK(peak_bf16, "vdpbf16ps", "avx512f,avx512bf16")
PEAK(peak_vnni, "vpdpbusd", "avx512f,avx512vnni")
#endif

int main(void) {
    double hz = clock_hz();
    printf("{\"clock_ghz\":%.3f", hz * 1e-9);
#if defined(__x86_64__)
    if (cs_cpu_level_get() >= CS_CPU_AVX512) {
        double f = peak_fma();
        printf(",\"f32_fma_zmm_per_cycle\":%.2f,\"f32_gflops\":%.1f", f / hz, f * 32 * 1e-9);
        if (cs_cpu_has(CS_CPU_BF16)) {
            double b = peak_bf16();
            printf(",\"bf16_dp_zmm_per_cycle\":%.2f,\"bf16_gflops\":%.1f", b / hz, b * 64 * 1e-9);
        }
        if (cs_cpu_has(CS_CPU_VNNI)) {
            double v = peak_vnni();
            printf(",\"int8_dp_zmm_per_cycle\":%.2f,\"int8_gops\":%.1f", v / hz, v * 128 * 1e-9);
        }
    }
#endif
    printf("}\n");
    return 0;
}
