/* Levelled logging to stderr. The level comes from MLAMBDA_LOG
 * (error|warn|info|debug, default info) or ml_log_set_level(). Thread-safe:
 * each message is written with a single fprintf. */
#ifndef MLAMBDA_CORE_LOG_H
#define MLAMBDA_CORE_LOG_H

typedef enum ml_log_level {
    ML_LOG_ERROR = 0,
    ML_LOG_WARN = 1,
    ML_LOG_INFO = 2,
    ML_LOG_DEBUG = 3,
} ml_log_level;

void ml_log_set_level(ml_log_level level);
ml_log_level ml_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int ml_log_parse_level(const char *name);
void ml_log(ml_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ML_LOG_E(...) ml_log(ML_LOG_ERROR, __VA_ARGS__)
#define ML_LOG_W(...) ml_log(ML_LOG_WARN, __VA_ARGS__)
#define ML_LOG_I(...) ml_log(ML_LOG_INFO, __VA_ARGS__)
#define ML_LOG_D(...)                                                                              \
    do {                                                                                           \
        if (ml_log_get_level() >= ML_LOG_DEBUG) ml_log(ML_LOG_DEBUG, __VA_ARGS__);                 \
    } while (0)

#endif
