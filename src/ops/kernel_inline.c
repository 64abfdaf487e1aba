/* ml_run_op (kernel.h): one standard op run from inside another kernel. */
#include <stdlib.h>

#include "ops/kernel.h"

#define INLINE_MAX_INPUTS 8

ml_status ml_run_op(const ml_kernel_ctx *ctx, const char *op_type, int opset, size_t n_attrs,
                    const ml_attr *attrs, size_t n_in, ml_value *const *in, ml_value **out) {
    *out = NULL;
    const ml_kernel *k = ml_find_kernel("", op_type, opset);
    if (!k || n_in > INLINE_MAX_INPUTS)
        return ml_node_error(ctx->node, ML_ERR_INTERNAL, "no kernel for %s (opset %d)", op_type,
                             opset);
    /* the node looks like one the loader built: present inputs named,
     * nothing known at load time */
    const char *in_names[INLINE_MAX_INPUTS], *out_names[1] = {"y"};
    const ml_tensor *consts[INLINE_MAX_INPUTS] = {0};
    for (size_t i = 0; i < n_in; i++) in_names[i] = in[i] ? "x" : "";
    ml_node node = {.name = ctx->node->name,
                    .op_type = op_type,
                    .domain = "",
                    .opset = opset,
                    .n_inputs = n_in,
                    .input_names = in_names,
                    .n_outputs = 1,
                    .output_names = out_names,
                    .n_attrs = n_attrs,
                    .attrs = (ml_attr *)attrs, /* kernels only read attributes */
                    .const_inputs = consts,
                    .kernel = k};
    if (k->init) ML_TRY(k->init(&node, &node.state));
    ml_value *outputs[1] = {NULL};
    ml_kernel_ctx sub = {.node = &node,
                         .n_inputs = n_in,
                         .inputs = in,
                         .n_outputs = 1,
                         .outputs = outputs,
                         .pool = ctx->pool,
                         .env = ctx->env,
                         .exec = ctx->exec};
    ml_status st = k->run(&sub);
    if (k->destroy) k->destroy(node.state);
    if (st) {
        ml_value_free(outputs[0]);
        return st;
    }
    if (!outputs[0])
        return ml_node_error(ctx->node, ML_ERR_INTERNAL, "%s produced no output", op_type);
    *out = outputs[0];
    return ML_STATUS_OK;
}
