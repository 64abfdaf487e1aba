/* NonMaxSuppression (10, 11): greedy per (batch, class) selection by score,
 * suppressing boxes whose IoU with a selected box exceeds iou_threshold.
 * Ties in score keep the lower box index first (as onnxruntime does). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_internal.h"
#include "ops/misc_util.h"

typedef struct cand {
    float score;
    int64_t index;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* Normalised corners (ymin, xmin, ymax, xmax) of box i. */
static void corners(const float *b, bool center, float out[4]) {
    if (center) {
        float xc = b[0], yc = b[1], w = b[2], h = b[3];
        out[0] = yc - h / 2, out[1] = xc - w / 2, out[2] = yc + h / 2, out[3] = xc + w / 2;
    } else {
        out[0] = fminf(b[0], b[2]), out[1] = fminf(b[1], b[3]);
        out[2] = fmaxf(b[0], b[2]), out[3] = fmaxf(b[1], b[3]);
    }
}

static bool suppress(const float *a, const float *b, float thr) {
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    if (area_a <= 0 || area_b <= 0) return false;
    float ih = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), iw = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (ih <= 0 || iw <= 0) return false;
    float inter = ih * iw, uni = area_a + area_b - inter;
    if (uni <= 0) return false;
    return inter / uni > thr;
}

ml_status misc_run_nms(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *boxes, *scores;
    ML_TRY(ml_require_input(ctx, 0, &boxes));
    ML_TRY(ml_require_input(ctx, 1, &scores));
    const ml_tensor *mo = ml_input(ctx, 2), *it = ml_input(ctx, 3), *stt = ml_input(ctx, 4);
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "boxes must be [B,N,4] and scores [B,C,N]");
    if (!misc_is_float_type(boxes->dtype) || !misc_is_float_type(scores->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "boxes and scores must be float");
    int64_t max_out = mo && ml_tensor_numel(mo) ? misc_get_i64(mo, 0) : 0;
    float iou_thr = it && ml_tensor_numel(it) ? (float)ml_tensor_get_f64(it, 0) : 0.0f;
    bool has_st = stt && ml_tensor_numel(stt);
    float score_thr = has_st ? (float)ml_tensor_get_f64(stt, 0) : 0.0f;
    bool center = ml_attr_int(node, "center_point_box", 0) != 0;
    if (iou_thr < 0 || iou_thr > 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "iou_threshold %g must be in [0, 1]",
                             iou_thr);
    const int64_t B = boxes->dims[0], N = boxes->dims[1], C = scores->dims[1];
    if (max_out < 0) max_out = 0;
    if (max_out > N) max_out = N;
    float *bo, *so;
    const float *bf = misc_f32_view(boxes, &bo), *sf = misc_f32_view(scores, &so);
    float *nb = malloc(((size_t)N * 4 + 1) * sizeof(float));
    cand *cs = malloc(((size_t)N + 1) * sizeof(cand));
    int64_t *sel = malloc(((size_t)max_out + 1) * sizeof(int64_t));
    size_t cap = 64, count = 0;
    int64_t *res = malloc(cap * 3 * sizeof(int64_t));
    ml_status st = ML_STATUS_OK;
    if (!bf || !sf || !nb || !cs || !sel || !res) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int64_t b = 0; b < B && max_out > 0; b++) {
        for (int64_t i = 0; i < N; i++) corners(bf + (b * N + i) * 4, center, nb + i * 4);
        for (int64_t c = 0; c < C; c++) {
            const float *s = sf + (b * C + c) * N;
            size_t nc = 0;
            for (int64_t i = 0; i < N; i++)
                if (s[i] == s[i] && (!has_st || s[i] > score_thr)) cs[nc++] = (cand){s[i], i};
            qsort(cs, nc, sizeof(cand), cand_cmp);
            int64_t ns = 0;
            for (size_t k = 0; k < nc && ns < max_out; k++) {
                const float *bx = nb + cs[k].index * 4;
                bool keep = true;
                for (int64_t j = 0; j < ns && keep; j++)
                    if (suppress(nb + sel[j] * 4, bx, iou_thr)) keep = false;
                if (!keep) continue;
                sel[ns++] = cs[k].index;
                if (count == cap) {
                    int64_t *r2 = realloc(res, cap * 2 * 3 * sizeof(int64_t));
                    if (!r2) {
                        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
                        goto done;
                    }
                    res = r2, cap *= 2;
                }
                res[count * 3] = b, res[count * 3 + 1] = c, res[count * 3 + 2] = cs[k].index;
                count++;
            }
        }
    }
    int64_t od[2] = {(int64_t)count, 3};
    ml_tensor *out;
    if (!(st = ml_output_tensor(ctx, 0, ML_INT64, 2, od, &out)))
        memcpy(out->data, res, count * 3 * sizeof(int64_t));
done:
    free(bo), free(so), free(nb), free(cs), free(sel), free(res);
    return st;
}
