/* Per-op time profile for finding what dominates a model's run:
 * MLAMBDA_PROFILE=1 makes the executor time every node and, at process exit,
 * print per op type (fused ops under their fused name) the calls, total and
 * mean time to stderr, costliest first. Off (one cached flag test per node)
 * otherwise. Times include each kernel's output allocation and pool hand-offs,
 * i.e. what the node costs the run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/executor_internal.h"

#define PROF_MAX 512

typedef struct prof_entry {
    /* copies: the model owning the node's strings may be freed first */
    char op_buf[64], domain_buf[32];
    uint64_t ns, calls;
} prof_entry;

static pthread_once_t prof_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t prof_mu = PTHREAD_MUTEX_INITIALIZER;
static bool prof_on;
static size_t prof_n;
static prof_entry prof_tab[PROF_MAX];

static int by_total(const void *a, const void *b) {
    const prof_entry *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static void prof_report(void) {
    pthread_mutex_lock(&prof_mu);
    qsort(prof_tab, prof_n, sizeof prof_tab[0], by_total);
    uint64_t total = 0;
    for (size_t i = 0; i < prof_n; i++) total += prof_tab[i].ns;
    fprintf(stderr, "mlambda profile: %-40s %10s %12s %10s %6s\n", "op", "calls", "total_us",
            "mean_us", "share");
    for (size_t i = 0; i < prof_n; i++) {
        const prof_entry *e = &prof_tab[i];
        char name[100];
        snprintf(name, sizeof name, "%s%s%s", e->domain_buf, e->domain_buf[0] ? ":" : "",
                 e->op_buf);
        fprintf(stderr, "mlambda profile: %-40s %10llu %12.1f %10.2f %5.1f%%\n", name,
                (unsigned long long)e->calls, (double)e->ns / 1e3,
                (double)e->ns / 1e3 / (double)e->calls, total ? 100.0 * e->ns / total : 0.0);
    }
    pthread_mutex_unlock(&prof_mu);
}

static void prof_init(void) {
    const char *v = getenv("MLAMBDA_PROFILE");
    prof_on = v && *v && strcmp(v, "0") != 0;
    if (prof_on) atexit(prof_report);
}

bool ml_exec_profiling(void) {
    pthread_once(&prof_once, prof_init);
    return prof_on;
}

void ml_exec_profile_add(const ml_node *n, uint64_t ns) {
    pthread_mutex_lock(&prof_mu);
    size_t i = 0;
    for (; i < prof_n; i++)
        if (strcmp(prof_tab[i].op_buf, n->op_type) == 0 &&
            strcmp(prof_tab[i].domain_buf, n->domain) == 0)
            break;
    if (i == prof_n && prof_n < PROF_MAX) {
        prof_entry *e = &prof_tab[prof_n++];
        snprintf(e->op_buf, sizeof e->op_buf, "%s", n->op_type);
        snprintf(e->domain_buf, sizeof e->domain_buf, "%s", n->domain);
    }
    if (i < prof_n) {
        prof_tab[i].ns += ns;
        prof_tab[i].calls++;
    }
    pthread_mutex_unlock(&prof_mu);
}
