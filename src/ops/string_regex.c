/* RegexFullMatch (opset 20). ONNX specifies RE2 syntax; mlambda has no RE2,
 * so the pattern is translated once (at load) to a POSIX extended regex,
 * anchored as ^(...)$, and run with regexec. Supported: literals, . [] ()
 * | * + ? {n,m}, ^ $, (?:...), (?P<name>...), a leading (?i), lazy
 * quantifiers (laziness cannot change whether a full match exists), the
 * escapes \d \D \w \W \s \S (also \d \w \s inside brackets), \t \n \r \f \v
 * \xHH, escaped punctuation, and word boundaries \b \B (glibc's GNU regex
 * operators). Rejected with a clear error: \A \z \p
 * \Q..\E, other (?...) groups, back-references. Known difference: '.' and
 * negated brackets also match '\n' (RE2 excludes it by default), and '.'
 * does not match a NUL byte (glibc), and matching is byte-wise: '.' or a
 * bracket matches one byte, not one UTF-8 character (literal UTF-8 text
 * matches as usual). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/string_internal.h"

typedef struct writer {
    char *out;
    size_t size, len;
    bool overflow;
} writer;

static void put(writer *w, const char *s) {
    size_t n = strlen(s);
    if (w->len + n + 1 > w->size) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, s, n + 1);
    w->len += n;
}

static void putc_(writer *w, char c) {
    char s[2] = {c, 0};
    put(w, s);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a character escape (after the backslash) that stands for one
 * literal byte; returns -1 when it is not one. Advances *p past it. */
static int literal_escape(const char **p) {
    char c = **p;
    switch (c) {
    case 't':
        (*p)++;
        return '\t';
    case 'n':
        (*p)++;
        return '\n';
    case 'r':
        (*p)++;
        return '\r';
    case 'f':
        (*p)++;
        return '\f';
    case 'v':
        (*p)++;
        return '\v';
    case 'x': {
        int h = hexval((*p)[1]), l = h >= 0 ? hexval((*p)[2]) : -1;
        if (h < 0 || l < 0) return -1;
        *p += 3;
        return h * 16 + l;
    }
    default:
        /* escaped punctuation stands for itself */
        if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
            (c >= '{' && c <= '~')) {
            (*p)++;
            return (unsigned char)c;
        }
        return -1;
    }
}

/* Emits a literal byte outside brackets. */
static void put_literal(writer *w, int c) {
    if (c && strchr(".[]()*+?{}|^$\\", c)) {
        putc_(w, '\\');
        putc_(w, (char)c);
    } else if (c == 0) {
        w->overflow = true; /* NUL cannot appear in a POSIX pattern */
    } else {
        putc_(w, (char)c);
    }
}

/* Translates a bracket expression starting after '['. */
static const char *bracket(const char **pp, writer *w) {
    const char *p = *pp;
    bool neg = false, has_close = false, has_dash = false, has_caret = false, has_open = false;
    char body[1024];
    writer b = {body, sizeof body, 0, false};
    if (*p == '^') {
        neg = true;
        p++;
    }
    bool first = true;
    while (*p && (first || *p != ']')) {
        int lo;
        if (*p == '[' && p[1] == ':') { /* POSIX class, passed through */
            const char *e = strstr(p + 2, ":]");
            if (!e) return "unterminated [:class:] in brackets";
            char tmp[64];
            size_t n = (size_t)(e + 2 - p);
            if (n >= sizeof tmp) return "unknown [:class:] in brackets";
            memcpy(tmp, p, n);
            tmp[n] = 0;
            put(&b, tmp);
            p = e + 2;
            first = false;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (*p == 'd') {
                put(&b, "0-9");
                p++;
                first = false;
                continue;
            }
            if (*p == 'w') {
                put(&b, "[:alnum:]_");
                p++;
                first = false;
                continue;
            }
            if (*p == 's') {
                put(&b, "[:space:]");
                p++;
                first = false;
                continue;
            }
            if (*p == 'D' || *p == 'W' || *p == 'S')
                return "negated classes (\\D \\W \\S) inside brackets are not supported";
            lo = literal_escape(&p);
            if (lo < 0) return "unsupported escape inside brackets";
        } else {
            lo = (unsigned char)*p++;
        }
        first = false;
        int hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            if (*p == '\\') {
                p++;
                hi = literal_escape(&p);
                if (hi < 0) return "unsupported escape in a bracket range";
            } else {
                hi = (unsigned char)*p++;
            }
            if (hi < lo) return "bracket range out of order";
            if (lo == ']' || hi == ']' || lo == '-' || hi == '-' || lo == '^' || lo == '[' ||
                lo == 0)
                return "bracket ranges starting or ending with ] - ^ [ are not supported";
            char r[4] = {(char)lo, '-', (char)hi, 0};
            put(&b, r);
            continue;
        }
        if (lo == ']')
            has_close = true;
        else if (lo == '-')
            has_dash = true;
        else if (lo == '^')
            has_caret = true;
        else if (lo == 0)
            return "NUL inside brackets is not supported";
        else if (lo == '[')
            has_open = true; /* emitted last so it cannot form [: [. [= */
        else
            putc_(&b, (char)lo);
    }
    if (*p != ']') return "unterminated bracket expression";
    p++;
    if (b.overflow) return "bracket expression too long";
    if (!neg && !has_close && !has_dash && !has_open && b.len == 0 && has_caret) {
        put(w, "\\^");
        *pp = p;
        return NULL;
    }
    putc_(w, '[');
    if (neg) putc_(w, '^');
    if (has_close) putc_(w, ']');
    put(w, body);
    if (has_open) putc_(w, '[');
    if (has_caret) putc_(w, '^');
    if (has_dash) putc_(w, '-');
    putc_(w, ']');
    *pp = p;
    return NULL;
}

const char *ml_regex_translate(const char *re, char *out, size_t size, int *icase) {
    writer w = {out, size, 0, false};
    const char *p = re;
    *icase = 0;
    if (strncmp(p, "(?i)", 4) == 0) {
        *icase = 1;
        p += 4;
    }
    put(&w, "^(");
    bool prev_quant = false; /* the last token was a quantifier */
    while (*p) {
        char c = *p;
        if (c == '?' && prev_quant) { /* lazy quantifier: irrelevant for full match */
            p++;
            prev_quant = false;
            continue;
        }
        prev_quant = false;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'd':
                put(&w, "[0-9]");
                p++;
                continue;
            case 'D':
                put(&w, "[^0-9]");
                p++;
                continue;
            case 'w':
                put(&w, "[[:alnum:]_]");
                p++;
                continue;
            case 'W':
                put(&w, "[^[:alnum:]_]");
                p++;
                continue;
            case 's':
                put(&w, "[[:space:]]");
                p++;
                continue;
            case 'S':
                put(&w, "[^[:space:]]");
                p++;
                continue;
            case 'b':
                put(&w, "\\b");
                p++;
                continue; /* GNU regex operators (glibc) */
            case 'B':
                put(&w, "\\B");
                p++;
                continue;
            case 'A':
            case 'z':
                return "\\A and \\z are not supported (the match is always anchored)";
            case 'p':
            case 'P':
                return "Unicode classes (\\p) are not supported";
            case 'Q':
                return "\\Q...\\E quoting is not supported";
            case '\0':
                return "the pattern ends with a lone backslash";
            default:
                break;
            }
            if (*p >= '1' && *p <= '9') return "back-references are not supported";
            int lit = literal_escape(&p);
            if (lit < 0) return "unsupported escape sequence";
            put_literal(&w, lit);
            continue;
        }
        if (c == '[') {
            p++;
            const char *err = bracket(&p, &w);
            if (err) return err;
            continue;
        }
        if (c == '(' && p[1] == '?') {
            if (p[2] == ':') {
                p += 3;
            } else if (p[2] == 'P' && p[3] == '<') {
                const char *e = strchr(p + 4, '>');
                if (!e) return "unterminated (?P<name> group";
                p = e + 1;
            } else {
                return "(?...) groups other than (?:...), (?P<name>...) and a leading (?i) are not "
                       "supported";
            }
            putc_(&w, '(');
            continue;
        }
        if (c == '(' && p[1] == ')') { /* POSIX rejects empty groups */
            p += 2;
            put(&w, "()");
            continue;
        }
        if (c == '*' || c == '+' || c == '?') {
            putc_(&w, c);
            p++;
            prev_quant = true;
            continue;
        }
        if (c == '{') {
            /* a repetition {n}, {n,} or {n,m}; any other brace is a literal */
            const char *e = p + 1;
            while (*e && ((*e >= '0' && *e <= '9') || *e == ',')) e++;
            if (*e == '}' && e > p + 1 && p[1] != ',') {
                size_t n = (size_t)(e - p + 1);
                for (size_t i = 0; i < n; i++) putc_(&w, p[i]);
                p = e + 1;
                prev_quant = true;
                continue;
            }
            put(&w, "\\{");
            p++;
            continue;
        }
        putc_(&w, c);
        p++;
    }
    put(&w, ")$");
    if (w.overflow) return "the pattern is too long";
    return NULL;
}

typedef struct regex_state {
    regex_t re;
} regex_state;

void ml_regex_full_match_destroy(void *state) {
    regex_state *s = state;
    if (!s) return;
    regfree(&s->re);
    free(s);
}

ml_status ml_regex_full_match_init(const ml_node *node, void **state) {
    const char *pattern = ml_attr_string(node, "pattern", NULL);
    if (!pattern)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the 'pattern' attribute is required");
    size_t size = strlen(pattern) * 12 + 16;
    char *posix = malloc(size);
    if (!posix) return ml_error(ML_ERR_OUT_OF_MEMORY, "RegexFullMatch pattern");
    int icase;
    const char *err = ml_regex_translate(pattern, posix, size, &icase);
    if (err) {
        free(posix);
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "pattern '%s': %s", pattern, err);
    }
    regex_state *s = calloc(1, sizeof *s);
    if (!s) {
        free(posix);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "RegexFullMatch state");
    }
    int rc = regcomp(&s->re, posix, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    free(posix);
    if (rc) {
        char msg[256];
        regerror(rc, &s->re, msg, sizeof msg);
        free(s);
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "pattern '%s' is invalid: %s", pattern,
                             msg);
    }
    *state = s;
    return ML_STATUS_OK;
}

ml_status ml_regex_full_match_run(ml_kernel_ctx *ctx) {
    const regex_state *s = ctx->node->state;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->dtype != ML_STRING)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input must be a string tensor, got %s", ml_dtype_name(x->dtype));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_BOOL, x->rank, x->dims, &y));
    size_t n = ml_tensor_numel(x);
    const ml_str *in = x->data;
    uint8_t *out = y->data;
    for (size_t i = 0; i < n; i++) {
        /* REG_STARTEND: strings need not be NUL-terminated and may hold NULs */
        regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)in[i].len};
        out[i] = regexec(&s->re, in[i].data, 1, &m, REG_STARTEND) == 0;
    }
    return ML_STATUS_OK;
}
