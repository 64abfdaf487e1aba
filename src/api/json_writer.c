/* JSON text writer; see json_writer.h for why and what it must match. */
#include "api/json_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_num.h"

static bool grow(ml_jw *w, size_t more) {
    if (w->failed) return false;
    if (w->len + more + 1 <= w->cap) return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            w->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

void ml_jw_raw(ml_jw *w, const char *s, size_t n) {
    if (!grow(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * the same rules as jansson's utf8_check_string (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    return len;
}

bool ml_jw_string(ml_jw *w, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (!l) return false;
        i += l;
    }
    /* worst case: every byte becomes \u00XX */
    if (!grow(w, n * 6 + 2)) return true;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            o += sprintf(o, "u%04X", c);
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
    return true;
}

void ml_jw_int(ml_jw *w, long long v) {
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", v);
    ml_jw_raw(w, b, (size_t)n);
}

/* ---- reals ---- */

/* jansson's post-processing of "%.*g" (strconv.c jsonp_dtostr). */
static size_t jansson_fixup(char *b, size_t len) {
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        b[len++] = '.';
        b[len++] = '0';
        b[len] = '\0';
    }
    char *start = strchr(b, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0') end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    return len;
}

static size_t slow_real(double v, int p, char *out) {
    int n = snprintf(out, 32, "%.*g", p, v);
    return jansson_fixup(out, (size_t)n);
}

#if defined(__SIZEOF_INT128__)
typedef unsigned __int128 u128;

/* q = round_half_even(m * 10^k * 2^e) for k >= 0, exactly; false when it
 * would not fit. */
static bool scaled_digits(uint64_t m, int e, int k, u128 *q) {
    if (k < 0 || k > 21) return false;
    /* m < 2^53 and 10^21 < 2^70: the product stays below 2^123 */
    u128 n = (u128)m * (k > 19 ? ml_pow10_u64[19] : ml_pow10_u64[k]);
    for (int i = 19; i < k; i++) n *= 10;
    if (e >= 0) {
        if (e > 120 || (n >> (127 - e)) != 0) return false;
        *q = n << e;
        return true;
    }
    int s = -e;
    if (s >= 127) return false;
    u128 r = n >> s, rem = n - (r << s), half = (u128)1 << (s - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    *q = r;
    return true;
}

/* "%.{p}g" for |v| whose decimal exponent X after rounding satisfies
 * -4 <= X < p (fixed notation), computed exactly with integers; false when
 * v is outside that range (the caller uses snprintf then). */
static bool fast_fixed(double v, int p, char *out, size_t *len) {
    /* |v| = m * 2^e exactly, from the IEEE-754 fields; E is the exponent
     * with |v| in [2^(E-1), 2^E) */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)((bits >> 52) & 0x7FF);
    uint64_t m = bits & ((1ull << 52) - 1);
    int e;
    if (be == 0) { /* subnormal */
        e = -1074;
    } else {
        m |= 1ull << 52;
        e = be - 1075;
    }
    int E = e + 64 - __builtin_clzll(m);
    int tz = __builtin_ctzll(m);
    m >>= tz;
    e += tz;
    /* decimal exponent estimate from the binary one (|v| in [2^(E-1), 2^E));
     * off by at most one, which the loop below corrects */
    int X = (int)floor((double)(E - 1) * 0.30102999566398120);
    u128 lo = ml_pow10_u64[p - 1], hi = lo * 10;
    u128 q = 0;
    for (int tries = 0; tries < 3; tries++) {
        if (X < -4 || X >= p) return false;
        if (!scaled_digits(m, e, p - 1 - X, &q)) return false;
        if (q >= hi) {
            X++;
            continue;
        }
        if (q < lo) {
            X--;
            continue;
        }
        break;
    }
    if (q < lo || q >= hi || X < -4 || X >= p) return false;
    char d[24];
    uint64_t q64 = (uint64_t)q; /* < 10^17 */
    for (int i = p - 1; i >= 0; i--) {
        d[i] = (char)('0' + (int)(q64 % 10));
        q64 /= 10;
    }
    int nd = p;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    char *o = out;
    if (v < 0) *o++ = '-';
    if (X >= 0) {
        for (int i = 0; i <= X; i++) *o++ = i < nd ? d[i] : '0';
        if (nd > X + 1) {
            *o++ = '.';
            for (int i = X + 1; i < nd; i++) *o++ = d[i];
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -X - 1; i++) *o++ = '0';
        for (int i = 0; i < nd; i++) *o++ = d[i];
    }
    /* jansson's rule: a real always shows a '.' (fixed notation has no 'e') */
    if (X >= 0 && nd <= X + 1) {
        *o++ = '.';
        *o++ = '0';
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return true;
}

#else
/* Without 128-bit integers every real goes through snprintf. */
static bool fast_fixed(double v, int p, char *out, size_t *len) {
    (void)v, (void)p, (void)out, (void)len;
    return false;
}
#endif

size_t ml_json_real_text(double v, int precision, char *out) {
    int p = precision <= 0 || precision > 17 ? 17 : precision;
    size_t len;
    if (v != 0 && isfinite(v) && fast_fixed(v, p, out, &len)) return len;
    return slow_real(v, p, out);
}

void ml_jw_real(ml_jw *w, double v, int precision) {
    char b[40];
    size_t n = ml_json_real_text(v, precision, b);
    ml_jw_raw(w, b, n);
}

char *ml_jw_take(ml_jw *w, size_t *len) {
    if (w->failed) {
        ml_jw_free(w);
        return NULL;
    }
    if (!w->buf && !grow(w, 0)) return NULL;
    char *b = w->buf;
    b[w->len] = '\0';
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return b;
}

void ml_jw_free(ml_jw *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}
