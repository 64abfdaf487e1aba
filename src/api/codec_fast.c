#include "api/codec_fast.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_num.h"

/* Every helper returns false to DECLINE: the jansson decoder then decides.
 * Declining is always safe, so anything unusual is declined rather than
 * handled approximately. */

/* ---- switch ---- */

static atomic_int fast_state; /* 0 = not read from the environment yet, 1 = on, 2 = off */

void ml_kserve_fast_set_enabled(bool on) {
    atomic_store(&fast_state, on ? 1 : 2);
}

bool ml_kserve_fast_enabled(void) {
    int s = atomic_load(&fast_state);
    if (s == 0) {
        const char *e = getenv("MLAMBDA_JSON_FAST");
        s = e && e[0] == '0' ? 2 : 1;
        atomic_store(&fast_state, s);
    }
    return s == 1;
}

/* ---- lexer ---- */

typedef struct cur {
    const unsigned char *p, *end;
} cur;

typedef struct span {
    const char *s;
    size_t n;
} span;

/* jansson's JSON_PARSER_MAX_DEPTH is 2048; anything near that is declined. */
#define MAX_SKIP_DEPTH 64
/* Unknown keys per object whose duplicates we can check (more: decline). */
#define MAX_UNKNOWN_KEYS 32

static inline void ws(cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* After ws: the next byte (0 at the end, which no valid token starts with). */
static inline unsigned char peek(cur *c) {
    ws(c);
    return c->p < c->end ? *c->p : 0;
}

/* Only whitespace left (a NUL byte is not the end: jansson rejects it). */
static inline bool at_end(cur *c) {
    ws(c);
    return c->p == c->end;
}

static inline bool eat(cur *c, unsigned char ch) {
    if (peek(c) != ch) return false;
    c->p++;
    return true;
}

/* One UTF-8 sequence starting with a byte >= 0x80, strictly as jansson
 * checks it (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static const unsigned char *utf8_seq(const unsigned char *p, const unsigned char *e) {
    unsigned c = p[0];
    int n;
    uint32_t v;
    if (c < 0xC2) return NULL;
    if (c < 0xE0) {
        n = 2;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        n = 3;
        v = c & 0x0F;
    } else if (c < 0xF5) {
        n = 4;
        v = c & 0x07;
    } else {
        return NULL;
    }
    if (e - p < n) return NULL;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return NULL;
        v = v << 6 | (p[i] & 0x3F);
    }
    if (n == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) return NULL;
    if (n == 4 && (v < 0x10000 || v > 0x10FFFF)) return NULL;
    return p + n;
}

/* A string without escapes (its raw bytes are then its value): the span
 * excludes the quotes. Escapes and control characters decline. */
static bool str(cur *c, span *out) {
    if (!eat(c, '"')) return false;
    const unsigned char *p = c->p, *e = c->end, *start = p;
    for (;;) {
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p >= e) return false;
        if (*p == '"') break;
        if (*p < 0x80) return false; /* backslash or control character */
        p = utf8_seq(p, e);
        if (!p) return false;
    }
    out->s = (const char *)start;
    out->n = (size_t)(p - start);
    c->p = p + 1;
    return true;
}

/* Growable buffer for decoded strings; owned by whoever declares it. */
typedef struct scratch {
    char *p;
    size_t cap;
} scratch;

static bool sc_put(scratch *sc, size_t *n, const void *src, size_t len) {
    if (!sc || len == 0) return true; /* validating only, or nothing to add */
    if (sc->cap - *n < len) {
        size_t cap = sc->cap ? sc->cap : 256;
        while (cap - *n < len) cap *= 2;
        char *p = realloc(sc->p, cap);
        if (!p) return false;
        sc->p = p;
        sc->cap = cap;
    }
    memcpy(sc->p + *n, src, len);
    *n += len;
    return true;
}

static int hex4(const unsigned char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = p[i];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* A string value with its escapes decoded as jansson decodes them (surrogate
 * pairs combined; lone surrogates and \u0000, which jansson rejects without
 * JSON_ALLOW_NUL, decline). Without escapes the span points into the body,
 * else into sc (sc NULL: validate only, the span is meaningless). */
static bool str_esc(cur *c, scratch *sc, span *out) {
    if (!eat(c, '"')) return false;
    const unsigned char *p = c->p, *e = c->end, *start = p;
    for (;;) {
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p >= e || *p < 0x20) return false;
        if (*p == '"') {
            out->s = (const char *)start;
            out->n = (size_t)(p - start);
            c->p = p + 1;
            return true;
        }
        if (*p == '\\') break;
        if (!(p = utf8_seq(p, e))) return false;
    }
    size_t n = 0;
    if (!sc_put(sc, &n, start, (size_t)(p - start))) return false;
    while (p < e && *p != '"') {
        const unsigned char *q = p;
        if (*p == '\\') {
            if (e - p < 2) return false;
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *k = p[1] ? strchr(from, p[1]) : NULL;
            if (k) {
                if (!sc_put(sc, &n, &to[k - from], 1)) return false;
                p += 2;
                continue;
            }
            if (p[1] != 'u' || e - p < 6) return false;
            int32_t cp = hex4(p + 2);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = e - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) {
                return false; /* bad hex, \u0000 or a lone low surrogate */
            }
            unsigned char u[4];
            size_t ul;
            if (cp < 0x80) {
                u[0] = (unsigned char)cp;
                ul = 1;
            } else if (cp < 0x800) {
                u[0] = (unsigned char)(0xC0 | cp >> 6);
                u[1] = (unsigned char)(0x80 | (cp & 0x3F));
                ul = 2;
            } else if (cp < 0x10000) {
                u[0] = (unsigned char)(0xE0 | cp >> 12);
                u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (unsigned char)(0x80 | (cp & 0x3F));
                ul = 3;
            } else {
                u[0] = (unsigned char)(0xF0 | cp >> 18);
                u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (unsigned char)(0x80 | (cp & 0x3F));
                ul = 4;
            }
            if (!sc_put(sc, &n, u, ul)) return false;
            continue;
        }
        if (*p < 0x20) return false;
        p = *p < 0x80 ? p + 1 : utf8_seq(p, e);
        if (!p || !sc_put(sc, &n, q, (size_t)(p - q))) return false;
    }
    if (p >= e) return false;
    out->s = sc ? sc->p : NULL;
    out->n = n;
    c->p = p + 1;
    return true;
}

static bool span_is(span s, const char *lit) {
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.s, lit, n) == 0;
}

static bool literal(cur *c, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) return false;
    c->p += n;
    return true;
}

/* ---- numbers ---- */

typedef struct num {
    bool is_int; /* no fraction or exponent: jansson's JSON_INTEGER */
    int64_t i;   /* when is_int */
    double d;    /* the value as jansson's json_number_value gives it */
} num;

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(__SIZEOF_INT128__) && FLT_EVAL_METHOD == 0
#define HAVE_U128 1
__extension__ typedef unsigned __int128 u128;

static int bitlen128(u128 x) {
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    return hi ? 128 - __builtin_clzll(hi) : lo ? 64 - __builtin_clzll(lo) : 0;
}

/* x * 2^exp2 rounded to nearest, ties to even; sticky: the exact value has
 * nonzero bits below x. Callers keep the result a normal double. */
static double round128(u128 x, bool sticky, int exp2) {
    int bl = bitlen128(x);
    if (bl <= 53) return ldexp((double)(uint64_t)x, exp2); /* exact (sticky is false here) */
    int sh = bl - 53;
    uint64_t mant = (uint64_t)(x >> sh);
    u128 rem = x & (((u128)1 << sh) - 1), half = (u128)1 << (sh - 1);
    if (rem > half || (rem == half && (sticky || (mant & 1)))) mant++; /* 2^53 is still exact */
    return ldexp((double)mant, exp2 + sh);
}

/* The 16-19 digit mantissas that printed doubles have (Python's repr of a
 * float32 value): m * 10^e for |e| <= 19 computed exactly in 128-bit
 * integers, then rounded once. For e < 0 the quotient (m << s) / 10^-e keeps
 * at least 63 bits and the remainder is the sticky bit. */
static bool wide_real(uint64_t m, int e, double *out) {
    if (m == 0 || e < -19 || e > 19) return false;
    if (e >= 0) {
        *out = round128((u128)m * ml_pow10_u64[e], false, 0);
        return true;
    }
    int s = 127 - (64 - __builtin_clzll(m));
    u128 n = (u128)m << s, d = ml_pow10_u64[-e];
    u128 q = n / d, r = n - q * d;
    *out = round128(q, r != 0, -s);
    return true;
}
#endif

/* strtod on a bounded copy, for numbers outside the exact paths above. It
 * runs under a C locale object of its own (uselocale is per thread), so a
 * process locale with a decimal comma cannot change the result, and it
 * never touches localeconv's shared buffer. */
static locale_t c_locale(void) {
    static _Atomic(locale_t) loc;
    locale_t l = atomic_load(&loc);
    if (!l) {
        locale_t n = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!n) return (locale_t)0;
        locale_t expected = (locale_t)0;
        if (atomic_compare_exchange_strong(&loc, &expected, n))
            l = n;
        else {
            freelocale(n); /* another thread won */
            l = expected;
        }
    }
    return l;
}

static bool slow_real(const unsigned char *s, size_t n, double *out) {
    char buf[64];
    locale_t c = c_locale();
    if (n >= sizeof buf || !c) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *endp;
    locale_t prev = uselocale(c);
    double d = strtod(buf, &endp);
    uselocale(prev);
    if (endp != buf + n) return false;
    if (isinf(d)) return false; /* jansson: "real number overflow" */
    *out = d;
    return true;
}

/* An RFC 8259 number, exactly as jansson lexes it: integers must fit int64
 * (jansson rejects others), reals are correctly rounded and must be finite. */
static bool number(cur *c, num *out) {
    const unsigned char *p = c->p, *e = c->end, *start = p;
    bool neg = false;
    if (p < e && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= e || *p < '0' || *p > '9') return false;
    uint64_t m = 0;
    int nd = 0;        /* significant digits in m */
    bool many = false; /* more than 19 significant digits */
    int dexp = 0;
    if (*p == '0') {
        p++;
        if (p < e && *p >= '0' && *p <= '9') return false; /* leading zero */
    } else {
        while (p < e && *p >= '0' && *p <= '9') {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else {
                many = true;
            }
            p++;
        }
    }
    if (p >= e || (*p != '.' && *p != 'e' && *p != 'E')) {
        if (many) return false; /* > 19 digits: beyond int64, jansson errors */
        if (m > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) return false;
        out->is_int = true;
        out->i = neg ? (int64_t)(0 - m) : (int64_t)m;
        out->d = (double)out->i;
        c->p = p;
        return true;
    }
    if (*p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return false;
        while (p < e && *p >= '0' && *p <= '9') {
            if (m == 0 && *p == '0') {
                /* clamped: such a value is 0 or takes the (bounded) slow path */
                if (dexp > -1000000) dexp--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
                dexp--;
            } else {
                many = true;
            }
            p++;
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= e || *p < '0' || *p > '9') return false;
        int x = 0;
        while (p < e && *p >= '0' && *p <= '9') {
            if (x < 100000) x = x * 10 + (*p - '0');
            p++;
        }
        dexp += eneg ? -x : x;
    }
    out->is_int = false;
    c->p = p;
#if FLT_EVAL_METHOD == 0
    if (!many && m == 0) {
        out->d = neg ? -0.0 : 0.0;
        return true;
    }
    /* Clinger: m and 10^|e| are exact doubles, so one IEEE operation rounds
     * the exact value correctly (strtod's result). */
    if (!many && m <= (1ull << 53) && dexp >= -22 && dexp <= 22) {
        double d = (double)m;
        d = dexp >= 0 ? d * pow10_exact[dexp] : d / pow10_exact[-dexp];
        out->d = neg ? -d : d;
        return true;
    }
#endif
#ifdef HAVE_U128
    if (!many && wide_real(m, dexp, &out->d)) {
        if (neg) out->d = -out->d;
        return true;
    }
#endif
    return slow_real(start, (size_t)(p - start), &out->d);
}

/* ---- generic validation (values we only skip) ---- */

typedef struct keyset {
    span keys[MAX_UNKNOWN_KEYS];
    int n;
} keyset;

/* Records an unknown key; false on a duplicate (JSON_REJECT_DUPLICATES) or
 * when there are too many to check cheaply. */
static bool key_new(keyset *ks, span k) {
    for (int i = 0; i < ks->n; i++)
        if (ks->keys[i].n == k.n && memcmp(ks->keys[i].s, k.s, k.n) == 0) return false;
    if (ks->n == MAX_UNKNOWN_KEYS) return false;
    ks->keys[ks->n++] = k;
    return true;
}

static bool skip(cur *c, int depth);

static bool skip_object(cur *c, int depth) {
    keyset ks;
    ks.n = 0;
    if (!eat(c, '{')) return false;
    if (eat(c, '}')) return true;
    do {
        span k;
        if (!str(c, &k) || !key_new(&ks, k) || !eat(c, ':') || !skip(c, depth + 1)) return false;
    } while (eat(c, ','));
    return eat(c, '}');
}

static bool skip(cur *c, int depth) {
    if (depth > MAX_SKIP_DEPTH) return false;
    span s;
    num n;
    switch (peek(c)) {
    case '{':
        return skip_object(c, depth);
    case '[':
        c->p++;
        if (eat(c, ']')) return true;
        do {
            if (!skip(c, depth + 1)) return false;
        } while (eat(c, ','));
        return eat(c, ']');
    case '"':
        return str_esc(c, NULL, &s);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c, &n);
    }
}

/* ---- tensor elements (set_elem in codec.c, restated per token kind) ---- */

/* The dtypes whose JSON elements this file converts. */
static bool dtype_handled(ml_dtype dt) {
    return dt == ML_STRING || dt == ML_BOOL || ml_dtype_is_integer(dt) || ml_dtype_is_float(dt);
}

static bool set_num(ml_tensor *t, size_t i, const num *n) {
    ml_dtype dt = t->dtype;
    if (dt == ML_FLOAT) {
        ML_TENSOR_DATA(t, float)[i] = (float)n->d;
        return true;
    }
    if (ml_dtype_is_float(dt)) {
        ml_tensor_set_f64(t, i, n->d);
        return true;
    }
    if (dt == ML_BOOL) {
        if (!n->is_int || (n->i != 0 && n->i != 1)) return false;
        ML_TENSOR_DATA(t, uint8_t)[i] = (uint8_t)n->i;
        return true;
    }
    if (!ml_dtype_is_integer(dt)) return false;
    if (n->is_int) {
        if (!ml_json_int_in_range(dt, (double)n->i)) return false;
        if (dt == ML_INT64)
            ML_TENSOR_DATA(t, int64_t)[i] = n->i;
        else if (dt == ML_UINT64)
            ML_TENSOR_DATA(t, uint64_t)[i] = (uint64_t)n->i;
        else
            ml_tensor_set_f64(t, i, (double)n->i);
        return true;
    }
    double d = n->d;
    if (!(floor(d) == d && ml_json_int_in_range(dt, d) && fabs(d) < 9.2e18)) return false;
    if (dt == ML_INT64)
        ML_TENSOR_DATA(t, int64_t)[i] = (int64_t)d;
    else
        ml_tensor_set_f64(t, i, d);
    return true;
}

static bool set_str(ml_tensor *t, size_t i, span s, const ml_json_limits *lim) {
    if (t->dtype == ML_STRING) {
        if (s.n > lim->max_string_bytes) return false;
        ml_status st = ml_tensor_set_string(t, i, s.s, s.n);
        ml_status_free(st);
        return st == NULL;
    }
    if (!ml_dtype_is_float(t->dtype)) return false;
    double v;
    if (span_is(s, "NaN") || span_is(s, "nan"))
        v = NAN;
    else if (span_is(s, "Infinity") || span_is(s, "inf"))
        v = INFINITY;
    else if (span_is(s, "-Infinity") || span_is(s, "-inf"))
        v = -INFINITY;
    else
        return false;
    ml_tensor_set_f64(t, i, v);
    return true;
}

/* "data": nested lists flattened in order (fill_flat), written into t's
 * numel elements; a bare scalar is element 0. Objects ({"b64"}) decline. */
static bool fill_elems(cur *c, ml_tensor *t, size_t numel, const ml_json_limits *lim, scratch *sc) {
    int max_depth = lim->max_depth < MAX_SKIP_DEPTH ? lim->max_depth : MAX_SKIP_DEPTH;
    int depth = 0;
    size_t idx = 0;
    bool is_float = t->dtype == ML_FLOAT;
    float *fdata = ML_TENSOR_DATA(t, float);
    for (;;) {
        /* a value */
        unsigned char ch = peek(c);
        if (ch == '[') {
            if (depth >= max_depth) return false;
            depth++;
            c->p++;
            if (peek(c) != ']') continue;
            c->p++;
            depth--;
        } else {
            if (idx >= numel) return false;
            if (ch == '"') {
                span s;
                if (!str_esc(c, sc, &s) || !set_str(t, idx, s, lim)) return false;
            } else if (ch == 't' || ch == 'f') {
                if (t->dtype != ML_BOOL || !literal(c, ch == 't' ? "true" : "false")) return false;
                ML_TENSOR_DATA(t, uint8_t)[idx] = ch == 't';
            } else {
                num n;
                if (!number(c, &n)) return false;
                if (is_float)
                    fdata[idx] = (float)n.d;
                else if (!set_num(t, idx, &n))
                    return false;
            }
            idx++;
        }
        /* what follows a value: close lists until a ',' starts the next one */
        for (;;) {
            if (depth == 0) return idx == numel;
            ch = peek(c);
            c->p++;
            if (ch == ',') break;
            if (ch != ']') return false;
            depth--;
        }
    }
}

static bool fill(cur *c, ml_tensor *t, size_t numel, const ml_json_limits *lim) {
    scratch sc = {NULL, 0};
    bool ok = fill_elems(c, t, numel, lim, &sc);
    free(sc.p);
    return ok;
}

/* ---- one input ---- */

enum { K_NAME = 1, K_DATATYPE = 2, K_SHAPE = 4, K_PARAMS = 8, K_DATA = 16 };

typedef struct input {
    span name;
    ml_dtype dtype;
    int rank;
    int64_t dims[ML_MAX_RANK];
    size_t numel;
    bool has_bsize;
    int64_t bsize;
    bool has_data;
    span data;         /* when the data came before the shape or datatype */
    ml_tensor *tensor; /* when it was converted on the spot */
} input;

static bool shape(cur *c, input *in) {
    if (!eat(c, '[')) return false;
    in->rank = 0;
    if (eat(c, ']')) return ml_shape_numel(0, in->dims, &in->numel);
    do {
        num n;
        ws(c);
        if (in->rank == ML_MAX_RANK || !number(c, &n) || !n.is_int || n.i < 0) return false;
        in->dims[in->rank++] = n.i;
    } while (eat(c, ','));
    return eat(c, ']') && ml_shape_numel(in->rank, in->dims, &in->numel);
}

static bool input_params(cur *c, input *in) {
    if (peek(c) != '{') return skip(c, 1); /* not an object: ignored, like codec.c */
    c->p++;
    keyset ks;
    ks.n = 0;
    if (eat(c, '}')) return true;
    do {
        span k;
        if (!str(c, &k) || !eat(c, ':')) return false;
        if (span_is(k, "binary_data_size")) {
            num n;
            if (in->has_bsize || (ws(c), !number(c, &n)) || !n.is_int || n.i < 0) return false;
            in->has_bsize = true;
            in->bsize = n.i;
        } else if (!key_new(&ks, k) || !skip(c, 2)) {
            return false;
        }
    } while (eat(c, ','));
    return eat(c, '}');
}

/* A new tensor for the input, refusing shapes the remaining bytes cannot
 * fill (each element needs at least `per_elem` bytes). */
static bool new_tensor(input *in, const ml_json_limits *lim, size_t avail, size_t per_elem,
                       ml_tensor **t) {
    if (in->numel > lim->max_elements || in->numel > avail / per_elem) return false;
    ml_status st = ml_tensor_create(in->dtype, in->rank, in->dims, t);
    ml_status_free(st);
    return st == NULL;
}

/* binary_tensor in codec.c. */
static bool binary(ml_tensor *t, const char *data, size_t size) {
    size_t numel = ml_tensor_numel(t);
    if (t->dtype != ML_STRING) {
        if (size != ml_tensor_nbytes(t)) return false;
        if (size) memcpy(t->data, data, size);
        return true;
    }
    size_t off = 0;
    for (size_t i = 0; i < numel; i++) {
        if (size - off < 4) return false;
        const unsigned char *p = (const unsigned char *)data + off;
        uint32_t n =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        off += 4;
        if (n > size - off) return false;
        ml_status st = ml_tensor_set_string(t, i, data + off, n);
        ml_status_free(st);
        if (st) return false;
        off += n;
    }
    return off == size;
}

typedef struct ctx {
    const char *body;
    size_t len;
    size_t bin_off;
    const ml_json_limits *lim;
    ml_kserve_request *out;
} ctx;

static bool input_end(ctx *x, input *in) {
    if (in->name.n == 0 || in->name.n > 256 || in->dtype == ML_UNDEFINED || in->rank < 0)
        return false;
    if (in->numel > x->lim->max_elements) return false;
    char name[257];
    memcpy(name, in->name.s, in->name.n);
    name[in->name.n] = '\0';
    if (ml_tensor_list_get(&x->out->inputs, name)) return false;
    ml_tensor *t = NULL;
    if (in->has_bsize) {
        if ((uint64_t)in->bsize > x->len - x->bin_off) return false;
        size_t n = (size_t)in->bsize;
        if (!new_tensor(in, x->lim, n, in->dtype == ML_STRING ? 4 : 1, &t)) return false;
        if (!binary(t, x->body + x->bin_off, n)) {
            ml_tensor_free(t);
            return false;
        }
        x->bin_off += n;
    } else if (in->tensor) {
        t = in->tensor;
        in->tensor = NULL;
    } else if (in->has_data) {
        cur c = {(const unsigned char *)in->data.s, (const unsigned char *)in->data.s + in->data.n};
        if (!new_tensor(in, x->lim, in->data.n, 1, &t)) return false;
        if (!fill(&c, t, in->numel, x->lim) || !at_end(&c)) {
            ml_tensor_free(t);
            return false;
        }
    } else {
        return false;
    }
    ml_status st = ml_tensor_list_add(&x->out->inputs, name, t); /* frees t on failure */
    ml_status_free(st);
    return st == NULL;
}

static bool input_obj(cur *c, ctx *x) {
    input in;
    memset(&in, 0, sizeof in);
    in.rank = -1;
    unsigned seen = 0;
    keyset ks;
    ks.n = 0;
    bool ok = eat(c, '{');
    if (ok && eat(c, '}')) ok = false; /* no name */
    while (ok) {
        span k;
        if (!str(c, &k) || !eat(c, ':')) {
            ok = false;
            break;
        }
        unsigned bit = span_is(k, "name")         ? K_NAME
                       : span_is(k, "datatype")   ? K_DATATYPE
                       : span_is(k, "shape")      ? K_SHAPE
                       : span_is(k, "parameters") ? K_PARAMS
                       : span_is(k, "data")       ? K_DATA
                                                  : 0;
        if (bit & seen) {
            ok = false;
            break;
        }
        seen |= bit;
        span s;
        switch (bit) {
        case K_NAME:
            ok = str(c, &in.name);
            break;
        case K_DATATYPE: {
            char dt[32];
            ok = str(c, &s) && s.n < sizeof dt;
            if (ok) {
                memcpy(dt, s.s, s.n);
                dt[s.n] = '\0';
                in.dtype = ml_dtype_parse(dt);
                ok = dtype_handled(in.dtype);
            }
            break;
        }
        case K_SHAPE:
            ok = shape(c, &in);
            break;
        case K_PARAMS:
            ok = input_params(c, &in);
            break;
        case K_DATA:
            in.has_data = true;
            if (in.rank >= 0 && in.dtype != ML_UNDEFINED && !in.has_bsize) {
                ok = new_tensor(&in, x->lim, (size_t)(c->end - c->p), 1, &in.tensor) &&
                     fill(c, in.tensor, in.numel, x->lim);
            } else {
                ws(c);
                const unsigned char *start = c->p;
                ok = skip(c, 1);
                in.data.s = (const char *)start;
                in.data.n = (size_t)(c->p - start);
            }
            break;
        default:
            ok = key_new(&ks, k) && skip(c, 1);
        }
        if (!ok || !eat(c, ',')) break;
    }
    ok = ok && eat(c, '}') && input_end(x, &in);
    ml_tensor_free(in.tensor);
    return ok;
}

/* ---- the request ---- */

enum { T_ID = 1, T_PARAMS = 2, T_INPUTS = 4, T_OUTPUTS = 8 };

typedef struct wanted {
    span name;
    int binary; /* -1: no "binary_data", 0: present and not true, 1: true */
} wanted;

/* {"binary_data_output": true, ...} at the top or {"binary_data": ...} in
 * an output: *flag = -1 absent, 0 present but not the literal true, 1 true. */
static bool flag_params(cur *c, const char *key, int *flag) {
    *flag = -1;
    if (peek(c) != '{') return skip(c, 1);
    c->p++;
    keyset ks;
    ks.n = 0;
    if (eat(c, '}')) return true;
    do {
        span k;
        if (!str(c, &k) || !eat(c, ':')) return false;
        if (span_is(k, key)) {
            if (*flag != -1) return false;
            *flag = peek(c) == 't' ? 1 : 0;
            if (!skip(c, 2)) return false;
        } else if (!key_new(&ks, k) || !skip(c, 2)) {
            return false;
        }
    } while (eat(c, ','));
    return eat(c, '}');
}

static bool output_obj(cur *c, wanted *w) {
    w->name.s = NULL;
    w->binary = -1;
    unsigned seen = 0;
    keyset ks;
    ks.n = 0;
    if (!eat(c, '{')) return false;
    if (eat(c, '}')) return false; /* no name */
    do {
        span k;
        if (!str(c, &k) || !eat(c, ':')) return false;
        if (span_is(k, "name")) {
            if (seen & 1 || !str(c, &w->name)) return false;
            seen |= 1;
        } else if (span_is(k, "parameters")) {
            if (seen & 2 || !flag_params(c, "binary_data", &w->binary)) return false;
            seen |= 2;
        } else if (!key_new(&ks, k) || !skip(c, 1)) {
            return false;
        }
    } while (eat(c, ','));
    return eat(c, '}') && w->name.s;
}

static bool outputs_list(cur *c, wanted **ws_out, size_t *n_out) {
    if (!eat(c, '[')) return false;
    if (eat(c, ']')) return true;
    size_t cap = 0;
    do {
        if (*n_out == 1024) return false;
        if (*n_out == cap) {
            cap = cap ? cap * 2 : 8;
            wanted *nw = realloc(*ws_out, cap * sizeof *nw);
            if (!nw) return false;
            *ws_out = nw;
        }
        if (!output_obj(c, &(*ws_out)[*n_out])) return false;
        (*n_out)++;
    } while (eat(c, ','));
    return eat(c, ']');
}

static char *span_dup(span s) {
    char *d = malloc(s.n + 1);
    if (d) {
        memcpy(d, s.s, s.n);
        d[s.n] = '\0';
    }
    return d;
}

static bool request(cur *c, ctx *x, wanted **ws_out, size_t *n_out) {
    ml_kserve_request *out = x->out;
    unsigned seen = 0;
    keyset ks;
    ks.n = 0;
    span id = {NULL, 0};
    int bdo = -1;
    if (!eat(c, '{') || eat(c, '}')) return false;
    do {
        span k;
        if (!str(c, &k) || !eat(c, ':')) return false;
        unsigned bit = span_is(k, "id")           ? T_ID
                       : span_is(k, "parameters") ? T_PARAMS
                       : span_is(k, "inputs")     ? T_INPUTS
                       : span_is(k, "outputs")    ? T_OUTPUTS
                                                  : 0;
        if (bit & seen) return false;
        seen |= bit;
        size_t n_in = 0;
        switch (bit) {
        case T_ID:
            if (peek(c) == '"') {
                if (!str(c, &id)) return false;
            } else if (!skip(c, 1)) {
                return false;
            }
            break;
        case T_PARAMS:
            if (!flag_params(c, "binary_data_output", &bdo)) return false;
            break;
        case T_INPUTS:
            if (!eat(c, '[') || eat(c, ']')) return false;
            do {
                if (++n_in > 1024 || !input_obj(c, x)) return false;
            } while (eat(c, ','));
            if (!eat(c, ']')) return false;
            break;
        case T_OUTPUTS:
            if (!outputs_list(c, ws_out, n_out)) return false;
            break;
        default:
            if (!key_new(&ks, k) || !skip(c, 1)) return false;
        }
    } while (eat(c, ','));
    if (!eat(c, '}') || !at_end(c) || !(seen & T_INPUTS) || x->bin_off != x->len) return false;
    out->binary_default = bdo == 1;
    if (id.s && !(out->id = span_dup(id))) return false;
    if (*n_out) {
        out->outputs = calloc(*n_out, sizeof *out->outputs);
        out->outputs_binary = calloc(*n_out, sizeof *out->outputs_binary);
        if (!out->outputs || !out->outputs_binary) return false;
        for (size_t i = 0; i < *n_out; i++) {
            const wanted *w = &(*ws_out)[i];
            if (!(out->outputs[i] = span_dup(w->name))) return false;
            out->n_outputs++;
            out->outputs_binary[i] = w->binary == -1 ? out->binary_default : w->binary == 1;
        }
    }
    return true;
}

ml_status ml_kserve_decode_fast(const char *body, size_t len, size_t header_len,
                                const ml_json_limits *lim, ml_kserve_request *out, bool *handled) {
    memset(out, 0, sizeof *out);
    *handled = false;
    if (header_len > len) return NULL;
    cur c = {(const unsigned char *)body, (const unsigned char *)body + header_len};
    ctx x = {body, len, header_len, lim, out};
    wanted *ws_list = NULL;
    size_t n_ws = 0;
    bool ok = request(&c, &x, &ws_list, &n_ws);
    free(ws_list);
    if (!ok) {
        /* free what was built; the jansson decoder starts from scratch */
        ml_kserve_request_clear(out);
        return NULL;
    }
    *handled = true;
    return NULL;
}

/* ---- differential checking ---- */

static bool tensor_same(const ml_tensor *a, const ml_tensor *b) {
    if (a->dtype != b->dtype || !ml_shape_equal(a->rank, a->dims, b->rank, b->dims)) return false;
    if (a->dtype != ML_STRING) return memcmp(a->data, b->data, ml_tensor_nbytes(a)) == 0;
    size_t n = ml_tensor_numel(a);
    for (size_t i = 0; i < n; i++) {
        const ml_str *x = &ML_TENSOR_DATA(a, ml_str)[i], *y = &ML_TENSOR_DATA(b, ml_str)[i];
        if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0)) return false;
    }
    return true;
}

bool ml_kserve_request_same(const ml_kserve_request *a, const ml_kserve_request *b) {
    if (!a->id != !b->id || (a->id && strcmp(a->id, b->id) != 0)) return false;
    if (a->binary_default != b->binary_default || a->n_outputs != b->n_outputs ||
        a->inputs.n != b->inputs.n)
        return false;
    for (size_t i = 0; i < a->n_outputs; i++)
        if (strcmp(a->outputs[i], b->outputs[i]) != 0 ||
            a->outputs_binary[i] != b->outputs_binary[i])
            return false;
    for (size_t i = 0; i < a->inputs.n; i++)
        if (strcmp(a->inputs.names[i], b->inputs.names[i]) != 0 ||
            !tensor_same(a->inputs.tensors[i], b->inputs.tensors[i]))
            return false;
    return true;
}
