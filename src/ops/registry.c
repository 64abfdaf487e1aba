/* The operator table: every family file exports a kernel list terminated by
 * an entry with op_type NULL. Adding a family means adding one line here. */
#include <string.h>

#include "ops/families.h"
#include "ops/kernel.h"

static const ml_kernel *const families[] = {
    ml_kernels_elementwise, ml_kernels_activation, ml_kernels_cast,   ml_kernels_reduce,
    ml_kernels_shape,       ml_kernels_index,      ml_kernels_linalg, ml_kernels_conv,
    ml_kernels_pool,        ml_kernels_norm,       ml_kernels_rnn,    ml_kernels_resize,
    ml_kernels_control,     ml_kernels_sequence,   ml_kernels_string, ml_kernels_ml,
    ml_kernels_quant,       ml_kernels_random,     ml_kernels_signal, ml_kernels_misc,
    ml_kernels_transformer,
};

static bool domain_equal(const char *a, const char *b) {
    /* "ai.onnx" and "" both name the default domain */
    if (strcmp(a, "ai.onnx") == 0) a = "";
    if (strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

const ml_kernel *ml_find_kernel(const char *domain, const char *op_type, int opset) {
    const ml_kernel *best = NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (const ml_kernel *k = families[f]; k->op_type; k++) {
            if (strcmp(k->op_type, op_type) != 0 || !domain_equal(k->domain, domain)) continue;
            if (opset < k->since_version) continue;
            if (k->until_version && opset > k->until_version) continue;
            if (!best || k->since_version > best->since_version) best = k;
        }
    }
    return best;
}

void ml_for_each_kernel(void (*fn)(const ml_kernel *k, void *arg), void *arg) {
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const ml_kernel *k = families[f]; k->op_type; k++) fn(k, arg);
}
