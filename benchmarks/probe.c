/* The roofline probe: a plain C heat-bath (Gibbs) sampler of the periodic 2D or 3D ferromagnet,
 * as fast as one core does a general sparse Gibbs update.  The couplings are a general CSR list
 * (no stencil tricks), spins are int8, chains are the innermost contiguous axis (one vectorised
 * loop over chains per spin), fields are float32, each chain has its own xorshift32 stream, and
 * the spins are updated colour by colour (checkerboard: L must be even).
 *
 *   cc -O3 -march=native -ffast-math -o probe probe.c -lm
 *   ./probe L chains sweeps [dim=2|3] [beta=0.4406868]
 *   prints: spins chains sweeps seconds flips_per_ns mean_energy_per_spin
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s L chains sweeps [dim=2|3] [beta]\n", argv[0]);
        return 2;
    }
    const long L = atol(argv[1]), C = atol(argv[2]), sweeps = atol(argv[3]);
    const int dim = argc > 4 ? atoi(argv[4]) : 2;
    const float beta = argc > 5 ? (float)atof(argv[5]) : 0.4406868f;
    if (L < 2 || L % 2 || C < 1 || sweeps < 1 || (dim != 2 && dim != 3)) {
        fprintf(stderr, "L must be even and ≥ 2, chains and sweeps ≥ 1, dim 2 or 3\n");
        return 2;
    }
    const long n = dim == 2 ? L * L : L * L * L, deg = 2 * dim;
    long *ptr = malloc((n + 1) * sizeof(long)), *nb = malloc(n * deg * sizeof(long));
    float *w = malloc(n * deg * sizeof(float));
    long *order = malloc(n * sizeof(long));
    int8_t *S = aligned_alloc(64, ((n * C + 63) / 64) * 64);
    uint32_t *rng = malloc(C * sizeof(uint32_t));
    float *acc = aligned_alloc(64, ((C * sizeof(float) + 63) / 64) * 64);
    /* the couplings, J = 1 to every lattice neighbour, as a CSR list */
    for (long i = 0; i < n; i++) {
        long x = i % L, y = (i / L) % L, z = i / (L * L), k = i * deg;
        ptr[i] = k;
        long c[6] = {(x + 1) % L + L * y + L * L * z, (x + L - 1) % L + L * y + L * L * z,
                     x + L * ((y + 1) % L) + L * L * z, x + L * ((y + L - 1) % L) + L * L * z,
                     x + L * y + L * L * ((z + 1) % L), x + L * y + L * L * ((z + L - 1) % L)};
        for (long d = 0; d < deg; d++) {
            nb[k + d] = c[d];
            w[k + d] = 1.0f;
        }
    }
    ptr[n] = n * deg;
    /* the checkerboard colours: even sites, then odd */
    long m = 0;
    for (int colour = 0; colour < 2; colour++)
        for (long i = 0; i < n; i++) {
            long x = i % L, y = (i / L) % L, z = i / (L * L);
            if ((x + y + z) % 2 == colour) order[m++] = i;
        }
    for (long c = 0; c < C; c++) rng[c] = 2463534242u + 2654435761u * (uint32_t)(c + 1);
    for (long i = 0; i < n * C; i++) S[i] = (i * 2654435761u >> 7) & 1 ? 1 : -1;
    const float scale = 2.0f * beta;
    double t0 = now();
    for (long s = 0; s < sweeps; s++) {
        for (long r = 0; r < n; r++) {
            const long i = order[r];
            for (long c = 0; c < C; c++) acc[c] = 0.0f;
            for (long k = ptr[i]; k < ptr[i + 1]; k++) {
                const int8_t *Sj = S + nb[k] * C;
                const float wk = w[k];
                for (long c = 0; c < C; c++) acc[c] += wk * Sj[c];
            }
            int8_t *Si = S + i * C;
            for (long c = 0; c < C; c++) {
                uint32_t x = rng[c];
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                rng[c] = x;
                const float u = (x >> 8) * (1.0f / 16777216.0f);
                /* E = -Σ s_i s_j: p(s_i = +1) = 1 / (1 + exp(-2β f)), f = Σ_j s_j */
                Si[c] = u * (1.0f + expf(-scale * acc[c])) < 1.0f ? 1 : -1;
            }
        }
    }
    double t1 = now();
    double energy = 0.0;
    for (long i = 0; i < n; i++)
        for (long k = ptr[i]; k < ptr[i + 1]; k++)
            for (long c = 0; c < C; c++) energy -= 0.5 * S[i * C + c] * S[nb[k] * C + c];
    printf("%ld %ld %ld %.6f %.6f %.6f\n", n, C, sweeps, t1 - t0, (double)n * C * sweeps / (t1 - t0) / 1e9,
           energy / (n * C));
    return 0;
}
