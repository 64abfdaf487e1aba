/* ONNX backend-test conformance runner.
 *
 * Runs every case folder (model.onnx + test_data_set_N/{input,output}_K.pb)
 * under the data root and prints one line per case:
 *   PASS|FAIL|UNSUPPORTED <suite>/<case> [reason]
 * then "conformance: N passed, M failed, K unsupported of T".
 *
 * Each case runs in a forked child with a time limit, so a crashing or
 * hanging kernel costs one case, not the whole run (--no-fork to debug).
 * Comparison follows the onnx backend tests: rtol 1e-3, atol 1e-7, NaN equals
 * NaN, strings exact, dtype and shape must match. Models with random ops are
 * checked for dtype and shape only. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "onnx/proto_tensor.h"
#include "onnx/session.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data"
#define CASE_TIMEOUT_S 30

static const char *const suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

enum verdict { V_PASS = 0, V_FAIL = 1, V_UNSUPPORTED = 2 };

static const double RTOL = 1e-3, ATOL = 1e-7;

/* ---- files ---- */

static ml_status read_file(const char *path, void **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return ml_error(ML_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) {
        fclose(f);
        return ml_error(ML_ERR_IO, "cannot size %s", path);
    }
    *buf = malloc((size_t)n + 1);
    if (!*buf) {
        fclose(f);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "reading %s", path);
    }
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return ML_STATUS_OK;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static ml_status read_value(const char *path, ml_value_kind kind, bool optional, ml_value **out) {
    void *buf = NULL;
    size_t len = 0;
    ML_TRY(read_file(path, &buf, &len));
    ml_status st;
    if (optional)
        st = ml_onnx_parse_optional_pb(buf, len, out);
    else if (kind == ML_VALUE_SEQUENCE)
        st = ml_onnx_parse_sequence_pb(buf, len, out);
    else
        st = ml_onnx_parse_tensor_pb(buf, len, out);
    free(buf);
    return ml_status_wrap(st, "%s", path);
}

/* onnx 1.12 writes bfloat16 test data as uint16 bit patterns (numpy has no
 * bfloat16); read them as the bfloat16 the model declares. */
static void fix_bf16(ml_value *v, ml_dtype declared) {
    if (v && v->kind == ML_VALUE_TENSOR && declared == ML_BFLOAT16 && v->tensor->dtype == ML_UINT16)
        v->tensor->dtype = ML_BFLOAT16;
}

/* ---- comparison ---- */

static bool read_float(const ml_tensor *t, size_t i, double *out) {
    switch (t->dtype) {
    case ML_FLOAT:
        *out = ((const float *)t->data)[i];
        return true;
    case ML_DOUBLE:
        *out = ((const double *)t->data)[i];
        return true;
    case ML_FLOAT16:
        *out = ml_fp16_to_float(((const uint16_t *)t->data)[i]);
        return true;
    case ML_BFLOAT16:
        *out = ml_bf16_to_float(((const uint16_t *)t->data)[i]);
        return true;
    case ML_COMPLEX64:
        *out = ((const float *)t->data)[i];
        return true;
    case ML_COMPLEX128:
        *out = ((const double *)t->data)[i];
        return true;
    default:
        return false;
    }
}

static bool close_enough(double e, double g) {
    if (isnan(e) || isnan(g)) return isnan(e) && isnan(g);
    if (isinf(e) || isinf(g)) return e == g;
    return fabs(g - e) <= ATOL + RTOL * fabs(e);
}

static bool compare_tensor(const ml_tensor *e, const ml_tensor *g, bool shape_only, char *why,
                           size_t wn) {
    char se[128], sg[128];
    if (e->dtype != g->dtype) {
        snprintf(why, wn, "dtype %s, expected %s", ml_dtype_name(g->dtype),
                 ml_dtype_name(e->dtype));
        return false;
    }
    if (!ml_shape_equal(e->rank, e->dims, g->rank, g->dims)) {
        snprintf(why, wn, "shape %s, expected %s", ml_shape_format(g->rank, g->dims, sg, sizeof sg),
                 ml_shape_format(e->rank, e->dims, se, sizeof se));
        return false;
    }
    if (shape_only) return true;
    size_t n = ml_tensor_numel(e);
    if (e->dtype == ML_STRING) {
        const ml_str *a = e->data, *b = g->data;
        for (size_t i = 0; i < n; i++)
            if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len) != 0) {
                snprintf(why, wn, "string %zu is '%.40s', expected '%.40s'", i, b[i].data,
                         a[i].data);
                return false;
            }
        return true;
    }
    double x;
    if (read_float(e, 0, &x) || e->dtype == ML_COMPLEX64 || e->dtype == ML_COMPLEX128) {
        size_t m = n * (e->dtype == ML_COMPLEX64 || e->dtype == ML_COMPLEX128 ? 2 : 1);
        size_t bad = 0, first = 0;
        double fe = 0, fg = 0;
        for (size_t i = 0; i < m; i++) {
            double ve, vg;
            read_float(e, i, &ve);
            read_float(g, i, &vg);
            if (!close_enough(ve, vg)) {
                if (!bad) {
                    first = i;
                    fe = ve;
                    fg = vg;
                }
                bad++;
            }
        }
        if (bad) {
            snprintf(why, wn, "%zu of %zu values differ; first at %zu: %.9g, expected %.9g", bad, m,
                     first, fg, fe);
            return false;
        }
        return true;
    }
    size_t es = ml_dtype_size(e->dtype);
    for (size_t i = 0; i < n; i++)
        if (memcmp((const char *)e->data + i * es, (const char *)g->data + i * es, es) != 0) {
            snprintf(why, wn, "value %zu is %g, expected %g", i, ml_tensor_get_f64(g, i),
                     ml_tensor_get_f64(e, i));
            return false;
        }
    return true;
}

static bool compare_value(const ml_value *e, const ml_value *g, bool shape_only, char *why,
                          size_t wn) {
    ml_value_kind ek = e ? e->kind : ML_VALUE_NONE, gk = g ? g->kind : ML_VALUE_NONE;
    if (ek != gk) {
        static const char *names[] = {"none", "tensor", "sequence", "map"};
        snprintf(why, wn, "got a %s, expected a %s", names[gk], names[ek]);
        return false;
    }
    switch (ek) {
    case ML_VALUE_NONE:
        return true;
    case ML_VALUE_TENSOR:
        return compare_tensor(e->tensor, g->tensor, shape_only, why, wn);
    case ML_VALUE_SEQUENCE:
        if (e->n_items != g->n_items) {
            snprintf(why, wn, "sequence of %zu items, expected %zu", g->n_items, e->n_items);
            return false;
        }
        for (size_t i = 0; i < e->n_items; i++) {
            char inner[400];
            if (!compare_value(e->items[i], g->items[i], shape_only, inner, sizeof inner)) {
                snprintf(why, wn, "item %zu: %s", i, inner);
                return false;
            }
        }
        return true;
    case ML_VALUE_MAP:
        return compare_tensor(e->keys, g->keys, shape_only, why, wn) &&
               compare_tensor(e->values, g->values, shape_only, why, wn);
    }
    return false;
}

/* ---- one case ---- */

static bool has_random_op(const ml_session *s) {
    static const char *const ops[] = {"RandomUniform",    "RandomNormal", "RandomUniformLike",
                                      "RandomNormalLike", "Bernoulli",    "Multinomial"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ml_session_uses_op(s, ops[i])) return true;
    return false;
}

static int verdict_of(ml_status st) {
    return ml_status_code(st) == ML_ERR_UNSUPPORTED ? V_UNSUPPORTED : V_FAIL;
}

static int run_data_set(ml_session *s, const char *dir, bool shape_only, char *why, size_t wn) {
    size_t n_in = ml_session_input_count(s), n_out = ml_session_output_count(s);
    ml_value **in = calloc(n_in + 1, sizeof *in), **exp = calloc(n_out + 1, sizeof *exp);
    ml_value **got = calloc(n_out + 1, sizeof *got);
    const char **names = calloc(n_in + 1, sizeof *names);
    size_t bound = 0;
    int v = V_PASS;
    ml_status st = ML_STATUS_OK;
    char path[4200];
    for (size_t i = 0; !st && i < n_in; i++) {
        snprintf(path, sizeof path, "%s/input_%zu.pb", dir, i);
        if (!exists(path)) continue; /* omitted optional input */
        const ml_io_info *io = ml_session_input(s, i);
        st = read_value(path, io->kind, ml_session_input_is_optional(s, i), &in[bound]);
        fix_bf16(in[bound], io->dtype);
        names[bound++] = io->name;
    }
    for (size_t i = 0; !st && i < n_out; i++) {
        snprintf(path, sizeof path, "%s/output_%zu.pb", dir, i);
        const ml_io_info *io = ml_session_output(s, i);
        st = read_value(path, io->kind, ml_session_output_is_optional(s, i), &exp[i]);
        fix_bf16(exp[i], io->dtype);
    }
    if (st) {
        snprintf(why, wn, "test data: %s", ml_status_message(st));
        v = V_FAIL;
        ml_status_free(st);
        st = ML_STATUS_OK;
    } else {
        st = ml_session_run(s, bound, names, in, n_out, NULL, got);
        if (st) {
            snprintf(why, wn, "run: %s", ml_status_message(st));
            v = verdict_of(st);
            ml_status_free(st);
        }
    }
    for (size_t i = 0; v == V_PASS && i < n_out; i++) {
        char inner[480];
        if (!compare_value(exp[i], got[i], shape_only, inner, sizeof inner)) {
            snprintf(why, wn, "output '%s': %s", ml_session_output(s, i)->name, inner);
            v = V_FAIL;
        }
    }
    for (size_t i = 0; i < n_in; i++) ml_value_free(in[i]);
    for (size_t i = 0; i < n_out; i++) {
        ml_value_free(exp[i]);
        ml_value_free(got[i]);
    }
    free(in);
    free(exp);
    free(got);
    free(names);
    return v;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Lists sub-folders of dir matching prefix (NULL = all), sorted. Caller frees. */
static size_t list_dirs(const char *dir, const char *prefix, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, name_cmp);
    *out = names;
    return n;
}

static void free_list(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int opt_level = 2;

static int run_case(const char *case_dir, char *why, size_t wn) {
    char model[4096];
    snprintf(model, sizeof model, "%s/model.onnx", case_dir);
    ml_session_options opts;
    ml_session_options_init(&opts);
    opts.n_threads = 1;
    opts.optimization_level = opt_level;
    ml_session *s;
    ml_status st = ml_session_load_file(model, &opts, &s);
    if (st) {
        snprintf(why, wn, "load: %s", ml_status_message(st));
        int v = verdict_of(st);
        ml_status_free(st);
        return v;
    }
    bool shape_only = has_random_op(s);
    char **sets;
    size_t n_sets = list_dirs(case_dir, "test_data_set_", &sets);
    int v = n_sets ? V_PASS : V_FAIL;
    if (!n_sets) snprintf(why, wn, "no test_data_set_* folder");
    for (size_t i = 0; v == V_PASS && i < n_sets; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", case_dir, sets[i]);
        char inner[900] = "";
        v = run_data_set(s, dir, shape_only, inner, sizeof inner);
        if (v != V_PASS) snprintf(why, wn, "%s: %s", sets[i], inner);
    }
    free_list(sets, n_sets);
    ml_session_free(s);
    return v;
}

/* Runs a case in a child so crashes and hangs stay contained. */
static int run_case_isolated(const char *case_dir, bool fork_cases, char *why, size_t wn) {
    if (!fork_cases) return run_case(case_dir, why, wn);
    int fds[2];
    if (pipe(fds) != 0) return run_case(case_dir, why, wn);
    fflush(NULL); /* a child must not inherit (and re-flush) buffered output */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_case(case_dir, why, wn);
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(CASE_TIMEOUT_S);
        char msg[1024] = "";
        int v = run_case(case_dir, msg, sizeof msg);
        size_t len = strlen(msg);
        if (write(fds[1], msg, len) < 0) _exit(3);
        close(fds[1]);
        /* exit, not _exit: a sanitizer build then reports leaks (and fails the case) */
        exit(v);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < wn && (r = read(fds[0], why + got, wn - 1 - got)) > 0) got += (size_t)r;
    why[got] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(why, wn, sig == SIGALRM ? "timed out after %d s" : "crashed with signal %d",
                 sig == SIGALRM ? CASE_TIMEOUT_S : sig);
        return V_FAIL;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : V_FAIL;
    if (code > V_UNSUPPORTED) {
        size_t used = strlen(why);
        snprintf(why + used, wn - used, "%sexit code %d (sanitizer report? run with --no-fork)",
                 used ? "; " : "", code);
        return V_FAIL;
    }
    return code;
}

static void usage(void) {
    fprintf(stderr,
            "usage: onnx_conformance [--data DIR] [--filter SUBSTR] [--failures FILE]\n"
            "                        [--baseline N] [--opt LEVEL] [--no-fork]\n"
            "  --data DIR      suite root holding node/, pytorch-*/, simple/ (default %s),\n"
            "                  or a folder of case folders\n"
            "  --filter S      only cases whose name contains S\n"
            "  --failures F    write the FAIL/UNSUPPORTED lines to F\n"
            "  --baseline N    exit non-zero when fewer than N cases pass\n"
            "  --opt LEVEL     session optimization_level (default 2)\n"
            "  --no-fork       run cases in-process (for debuggers)\n",
            DEFAULT_DATA);
}

int main(int argc, char **argv) {
    const char *data = DEFAULT_DATA, *filter = NULL, *failures_path = NULL;
    long baseline = -1;
    bool fork_cases = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else if (!strcmp(argv[i], "--failures") && i + 1 < argc)
            failures_path = argv[++i];
        else if (!strcmp(argv[i], "--baseline") && i + 1 < argc)
            baseline = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-fork"))
            fork_cases = false;
        else if (!strcmp(argv[i], "--opt") && i + 1 < argc)
            opt_level = atoi(argv[++i]);
        else {
            usage();
            return 2;
        }
    }
    FILE *failures = NULL;
    if (failures_path && !(failures = fopen(failures_path, "w"))) {
        fprintf(stderr, "cannot write %s: %s\n", failures_path, strerror(errno));
        return 2;
    }
    /* either the suite root or a single folder of cases */
    const char *roots[4];
    const char *labels[4];
    char paths[4][4096];
    size_t n_roots = 0;
    for (size_t i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", data, suites[i]);
        if (exists(paths[i])) {
            roots[n_roots] = paths[i];
            labels[n_roots++] = suites[i];
        }
    }
    if (!n_roots) {
        roots[0] = data;
        labels[0] = "";
        n_roots = 1;
    }
    size_t passed = 0, failed = 0, unsupported = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t suite_pass[4] = {0}, suite_total[4] = {0};
    for (size_t r = 0; r < n_roots; r++) {
        char **cases;
        size_t n = list_dirs(roots[r], NULL, &cases);
        for (size_t i = 0; i < n; i++) {
            char label[1024], dir[4096];
            snprintf(label, sizeof label, "%s%s%s", labels[r], labels[r][0] ? "/" : "", cases[i]);
            if (filter && !strstr(label, filter)) continue;
            snprintf(dir, sizeof dir, "%s/%s", roots[r], cases[i]);
            char model[4200];
            snprintf(model, sizeof model, "%s/model.onnx", dir);
            if (!exists(model)) continue;
            char why[1024] = "";
            int v = run_case_isolated(dir, fork_cases, why, sizeof why);
            static const char *const tags[] = {"PASS", "FAIL", "UNSUPPORTED"};
            for (char *p = why; *p; p++)
                if (*p == '\n') *p = ' ';
            printf("%s %s%s%s\n", tags[v], label, why[0] ? " " : "", why);
            if (v != V_PASS && failures) fprintf(failures, "%s %s %s\n", tags[v], label, why);
            suite_total[r]++;
            if (v == V_PASS) suite_pass[r]++;
            if (v == V_PASS)
                passed++;
            else if (v == V_FAIL)
                failed++;
            else
                unsupported++;
        }
        free_list(cases, n);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    size_t total = passed + failed + unsupported;
    for (size_t r = 0; r < n_roots; r++)
        if (labels[r][0] && suite_total[r])
            printf("conformance %s: %zu of %zu passed\n", labels[r], suite_pass[r], suite_total[r]);
    printf("conformance: %zu passed, %zu failed, %zu unsupported of %zu (%.1f s)\n", passed, failed,
           unsupported, total, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (failures) fclose(failures);
    if (baseline >= 0 && (long)passed < baseline) {
        printf("conformance: %zu passed is below the baseline of %ld\n", passed, baseline);
        return 1;
    }
    return 0;
}
