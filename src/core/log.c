#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -1 means "not yet read from the environment". */
static atomic_int current_level = -1;

int ml_log_parse_level(const char *name) {
    if (!name) return -1;
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void ml_log_set_level(ml_log_level level) {
    atomic_store(&current_level, (int)level);
}

ml_log_level ml_log_get_level(void) {
    int lvl = atomic_load(&current_level);
    if (lvl < 0) {
        lvl = ml_log_parse_level(getenv("MLAMBDA_LOG"));
        if (lvl < 0) lvl = ML_LOG_INFO;
        atomic_store(&current_level, lvl);
    }
    return (ml_log_level)lvl;
}

void ml_log(ml_log_level level, const char *fmt, ...) {
    if ((int)level > (int)ml_log_get_level()) return;
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            tags[level], msg);
}
