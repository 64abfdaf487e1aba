/* Hostile-request check for the kernels behind the engine: loads every
 * backend-test model and runs it with inputs of the declared dtype and rank
 * but random shapes (including empty dims) and random contents. Any status
 * is fine (each run has a 2 s deadline); a crash, a hang past the deadline or
 * a sanitizer report is a bug. Each model runs in a forked child; prints one
 * line per model that crashed.
 *   onnx_input_fuzz [--data DIR] [--filter SUBSTR] [--rounds N] */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "onnx/session.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static ml_value *random_input(const ml_io_info *io) {
    if (io->kind != ML_VALUE_TENSOR) return NULL;
    ml_dtype dt = io->dtype == ML_UNDEFINED ? ML_FLOAT : io->dtype;
    int rank = io->rank >= 0 ? io->rank : (int)(rnd() % 4);
    int64_t dims[ML_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        uint64_t r = rnd() % 10;
        /* mostly the declared size, sometimes 0, 1 or something else */
        dims[i] = r < 5 && io->dims[i] > 0 && io->dims[i] < 64 ? io->dims[i]
                  : r < 6                                      ? 0
                  : r < 7                                      ? 1
                                                               : (int64_t)(1 + rnd() % 7);
    }
    ml_tensor *t;
    ml_status st = ml_tensor_create(dt, rank, dims, &t);
    if (st) {
        ml_status_free(st);
        return NULL;
    }
    size_t n = ml_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        if (dt == ML_STRING) {
            char s[8];
            int len = (int)(rnd() % 7);
            for (int k = 0; k < len; k++) s[k] = (char)('a' + rnd() % 26);
            st = ml_tensor_set_string(t, i, s, (size_t)len);
            if (st) ml_status_free(st);
        } else {
            /* small integers (valid-ish indices/axes) and the odd extreme */
            int64_t r = (int64_t)(rnd() % 11) - 5;
            ml_tensor_set_f64(t, i, rnd() % 50 == 0 ? 1e30 : (double)r);
        }
    }
    ml_value *v;
    st = ml_value_from_tensor(t, &v);
    if (st) {
        ml_status_free(st);
        return NULL;
    }
    return v;
}

static int runs_ok, runs_failed;

static void fuzz_model(const char *model, int rounds) {
    ml_session_options o;
    ml_session_options_init(&o);
    o.n_threads = 1;
    ml_session *s;
    ml_status st = ml_session_load_file(model, &o, &s);
    if (st) {
        ml_status_free(st);
        return;
    }
    size_t n_in = ml_session_input_count(s), n_out = ml_session_output_count(s);
    ml_value **in = calloc(n_in + 1, sizeof *in), **out = calloc(n_out + 1, sizeof *out);
    const char **names = calloc(n_in + 1, sizeof *names);
    for (int r = 0; r < rounds; r++) {
        size_t bound = 0;
        for (size_t i = 0; i < n_in; i++) {
            ml_value *v = random_input(ml_session_input(s, i));
            if (!v) continue;
            names[bound] = ml_session_input(s, i)->name;
            in[bound++] = v;
        }
        /* a random trip count can make a Loop run for ages: that is what
         * the deadline is for (a hang past it is a bug, the alarm catches it) */
        ml_run_options ro = {.deadline_ns = ml_now_ns() + 2000000000ull};
        st = ml_session_run_with(s, &ro, bound, names, in, n_out, NULL, out);
        if (st)
            runs_failed++;
        else
            runs_ok++;
        if (st && getenv("INPUT_FUZZ_VERBOSE"))
            fprintf(stderr, "%s: %s\n", model, ml_status_message(st));
        if (st) ml_status_free(st);
        for (size_t i = 0; i < n_out; i++) ml_value_free(out[i]);
        for (size_t i = 0; i < bound; i++) ml_value_free(in[i]);
    }
    free(in);
    free(out);
    free(names);
    ml_session_free(s);
}

int main(int argc, char **argv) {
    const char *data = DEFAULT_DATA, *filter = NULL;
    int rounds = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--filter"))
            filter = argv[i + 1];
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    static const char *const suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int crashed = 0, total = 0;
    for (size_t k = 0; k < 4; k++) {
        char root[4096];
        snprintf(root, sizeof root, "%s/%s", data, suites[k]);
        DIR *d = opendir(root);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || (filter && !strstr(e->d_name, filter))) continue;
            char model[4400];
            snprintf(model, sizeof model, "%s/%s/model.onnx", root, e->d_name);
            struct stat sb;
            if (stat(model, &sb) != 0) continue;
            total++;
            fflush(NULL); /* a child must not inherit (and re-flush) buffered output */
            pid_t pid = fork();
            if (pid == 0) {
                alarm((unsigned)(rounds * 2 + 20)); /* every run may use its 2 s deadline */
                rng ^= (uint64_t)total * 0x9e3779b97f4a7c15ull;
                fuzz_model(model, rounds);
                if (getenv("INPUT_FUZZ_VERBOSE"))
                    fprintf(stderr, "%s: %d runs ok, %d rejected\n", e->d_name, runs_ok,
                            runs_failed);
                exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
                crashed++;
                printf("CRASH %s/%s %s %d\n", suites[k], e->d_name,
                       WIFSIGNALED(status) ? "signal" : "exit",
                       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            }
        }
        closedir(d);
    }
    printf("input_fuzz: %d of %d models crashed\n", crashed, total);
    return crashed ? 1 : 0;
}
