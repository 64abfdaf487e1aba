/* Radix-2 FFT plus Bluestein's chirp-z transform for other lengths, in
 * double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/signal_internal.h"

struct sig_fft {
    size_t n;      /* transform length */
    size_t m;      /* power-of-two length used internally (== n when n is one) */
    double *tw;    /* m/2 twiddles e^{-2 pi i k / m}, interleaved */
    double *chirp; /* Bluestein: n chirps e^{-pi i k^2 / n} */
    double *bfft;  /* Bluestein: FFT of the conjugate chirp filter, length m */
    double *work;  /* Bluestein: scratch of length m */
};

static void fft_pow2(const sig_fft *p, double *a, bool inverse) {
    const size_t m = p->m;
    for (size_t i = 1, j = 0; i < m; i++) { /* bit reversal */
        size_t bit = m >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double tr = a[2 * i], ti = a[2 * i + 1];
            a[2 * i] = a[2 * j], a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = tr, a[2 * j + 1] = ti;
        }
    }
    for (size_t len = 2; len <= m; len <<= 1) {
        size_t step = m / len;
        for (size_t i = 0; i < m; i += len)
            for (size_t k = 0; k < len / 2; k++) {
                double wr = p->tw[2 * k * step], wi = p->tw[2 * k * step + 1];
                if (inverse) wi = -wi;
                double *u = a + 2 * (i + k), *v = a + 2 * (i + k + len / 2);
                double xr = v[0] * wr - v[1] * wi, xi = v[0] * wi + v[1] * wr;
                v[0] = u[0] - xr, v[1] = u[1] - xi;
                u[0] += xr, u[1] += xi;
            }
    }
}

void sig_fft_free(sig_fft *p) {
    if (!p) return;
    free(p->tw), free(p->chirp), free(p->bfft), free(p->work);
    free(p);
}

ml_status sig_fft_create(size_t n, sig_fft **out) {
    *out = NULL;
    if (n == 0 || n > ((size_t)1 << 22))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "DFT length %zu must be in [1, 2^22]", n);
    sig_fft *p = calloc(1, sizeof *p);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory for an FFT plan");
    p->n = n;
    bool pow2 = (n & (n - 1)) == 0;
    p->m = 1;
    if (pow2)
        p->m = n;
    else
        while (p->m < 2 * n - 1) p->m <<= 1;
    p->tw = malloc(p->m * sizeof(double) + 2 * sizeof(double));
    if (!p->tw) goto oom;
    for (size_t k = 0; k < p->m / 2; k++) {
        double a = -2.0 * M_PI * (double)k / (double)p->m;
        p->tw[2 * k] = cos(a), p->tw[2 * k + 1] = sin(a);
    }
    if (!pow2) {
        p->chirp = malloc(2 * n * sizeof(double));
        p->bfft = calloc(2 * p->m, sizeof(double));
        p->work = malloc(2 * p->m * sizeof(double));
        if (!p->chirp || !p->bfft || !p->work) goto oom;
        for (size_t k = 0; k < n; k++) {
            /* k^2 mod 2n keeps the angle accurate for large k */
            double a = -M_PI * (double)((k * k) % (2 * n)) / (double)n;
            p->chirp[2 * k] = cos(a), p->chirp[2 * k + 1] = sin(a);
        }
        p->bfft[0] = p->chirp[0], p->bfft[1] = -p->chirp[1];
        for (size_t k = 1; k < n; k++) {
            p->bfft[2 * k] = p->bfft[2 * (p->m - k)] = p->chirp[2 * k];
            p->bfft[2 * k + 1] = p->bfft[2 * (p->m - k) + 1] = -p->chirp[2 * k + 1];
        }
        fft_pow2(p, p->bfft, false);
    }
    *out = p;
    return ML_STATUS_OK;
oom:
    sig_fft_free(p);
    return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory for an FFT plan of length %zu", n);
}

void sig_fft_run(sig_fft *p, double *a, bool inverse) {
    const size_t n = p->n;
    if (p->m == n) {
        fft_pow2(p, a, inverse);
    } else {
        /* inverse DFT = conj(DFT(conj(x))) */
        double *w = p->work;
        memset(w, 0, 2 * p->m * sizeof(double));
        for (size_t k = 0; k < n; k++) {
            double xr = a[2 * k], xi = inverse ? -a[2 * k + 1] : a[2 * k + 1];
            double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
            w[2 * k] = xr * cr - xi * ci, w[2 * k + 1] = xr * ci + xi * cr;
        }
        fft_pow2(p, w, false);
        for (size_t k = 0; k < p->m; k++) {
            double xr = w[2 * k], xi = w[2 * k + 1], br = p->bfft[2 * k], bi = p->bfft[2 * k + 1];
            w[2 * k] = xr * br - xi * bi, w[2 * k + 1] = xr * bi + xi * br;
        }
        fft_pow2(p, w, true);
        const double inv_m = 1.0 / (double)p->m;
        for (size_t k = 0; k < n; k++) {
            double xr = w[2 * k] * inv_m, xi = w[2 * k + 1] * inv_m;
            double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
            a[2 * k] = xr * cr - xi * ci;
            a[2 * k + 1] = xr * ci + xi * cr;
            if (inverse) a[2 * k + 1] = -a[2 * k + 1];
        }
    }
    if (inverse) {
        const double s = 1.0 / (double)n;
        for (size_t k = 0; k < 2 * n; k++) a[k] *= s;
    }
}
