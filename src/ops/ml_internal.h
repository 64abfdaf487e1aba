/* Shared pieces of the ai.onnx.ml kernels (ml_*.c): feature-matrix input,
 * attribute decoding, post transforms and class-label outputs. */
#ifndef MLAMBDA_OPS_ML_INTERNAL_H
#define MLAMBDA_OPS_ML_INTERNAL_H

#include "ops/kernel.h"

/* ---- kernels (one group per file) ---- */
/* ml_tree.c */
ml_status ml_tree_classifier_init(const ml_node *node, void **state);
ml_status ml_tree_regressor_init(const ml_node *node, void **state);
/* TreeEnsemble (ml opset 5); runs with ml_tree_regressor_run */
ml_status ml_tree_ensemble_init(const ml_node *node, void **state);
void ml_tree_destroy(void *state);
ml_status ml_tree_classifier_run(ml_kernel_ctx *ctx);
ml_status ml_tree_regressor_run(ml_kernel_ctx *ctx);
/* ml_linear.c */
ml_status ml_linear_classifier_init(const ml_node *node, void **state);
ml_status ml_linear_regressor_init(const ml_node *node, void **state);
void ml_linear_destroy(void *state);
ml_status ml_linear_classifier_run(ml_kernel_ctx *ctx);
ml_status ml_linear_regressor_run(ml_kernel_ctx *ctx);
/* ml_svm.c */
ml_status ml_svm_classifier_init(const ml_node *node, void **state);
ml_status ml_svm_regressor_init(const ml_node *node, void **state);
void ml_svm_destroy(void *state);
ml_status ml_svm_classifier_run(ml_kernel_ctx *ctx);
ml_status ml_svm_regressor_run(ml_kernel_ctx *ctx);
/* ml_preproc.c */
ml_status ml_scaler_run(ml_kernel_ctx *ctx);
ml_status ml_normalizer_run(ml_kernel_ctx *ctx);
ml_status ml_binarizer_run(ml_kernel_ctx *ctx);
ml_status ml_imputer_run(ml_kernel_ctx *ctx);
ml_status ml_array_feature_extractor_run(ml_kernel_ctx *ctx);
ml_status ml_feature_vectorizer_run(ml_kernel_ctx *ctx);
/* ml_encode.c */
ml_status ml_label_encoder_init(const ml_node *node, void **state);
void ml_label_encoder_destroy(void *state);
ml_status ml_label_encoder_run(ml_kernel_ctx *ctx);
ml_status ml_category_mapper_init(const ml_node *node, void **state);
void ml_category_mapper_destroy(void *state);
ml_status ml_category_mapper_run(ml_kernel_ctx *ctx);
ml_status ml_one_hot_encoder_init(const ml_node *node, void **state);
void ml_one_hot_encoder_destroy(void *state);
ml_status ml_one_hot_encoder_run(ml_kernel_ctx *ctx);
ml_status ml_dict_vectorizer_init(const ml_node *node, void **state);
void ml_dict_vectorizer_destroy(void *state);
ml_status ml_dict_vectorizer_run(ml_kernel_ctx *ctx);
/* ml_castmap.c */
ml_status ml_cast_map_run(ml_kernel_ctx *ctx);
/* ml_zipmap.c */
ml_status ml_zipmap_run(ml_kernel_ctx *ctx);

/* ---- feature matrices ---- */
/* Views X ([C] as one row, [N, C], or [N, ...] flattened per row) as n rows
 * of c features; fails for rank 0 or non-numeric dtypes. */
ml_status ml_feature_rows(const ml_node *node, const ml_tensor *x, size_t *n, size_t *c);
/* X's elements as float/double: *data points into X when it already has
 * that dtype, else into *owned (malloc'd, caller frees; NULL otherwise).
 * Accepts float, double, float16, bfloat16, all ints and bool. */
ml_status ml_as_f32(const ml_node *node, const ml_tensor *x, const float **data, float **owned);
ml_status ml_as_f64(const ml_node *node, const ml_tensor *x, const double **data, double **owned);

/* ---- attributes ---- */
/* Reads a real-valued list attribute `name` (FLOATS) or, from opset 3 of
 * the ml domain, `name`_as_tensor (float or double tensor) into a new
 * malloc'd double array (caller frees). *n = 0 and *out = NULL when absent. */
ml_status ml_attr_reals(const ml_node *node, const char *name, double **out, size_t *n);

/* ---- post transforms ---- */
typedef enum ml_post {
    ML_POST_NONE,
    ML_POST_LOGISTIC,
    ML_POST_SOFTMAX,
    ML_POST_SOFTMAX_ZERO,
    ML_POST_PROBIT,
} ml_post;
ml_status ml_parse_post_transform(const ml_node *node, ml_post *out);
/* Applies the transform in place to one row of n scores. */
void ml_post_apply(ml_post p, float *row, size_t n);
float ml_logistic(float x);
float ml_probit(float x);

/* ---- class labels ---- */
typedef struct ml_labels {
    size_t n;
    const int64_t *ints;   /* int64 labels, or NULL */
    const ml_str *strings; /* string labels, or NULL (exactly one is set when n > 0) */
} ml_labels;
/* Reads the label list from attribute int_name or str_name (one must be
 * present and non-empty unless allow_empty). */
ml_status ml_read_labels(const ml_node *node, const char *int_name, const char *str_name,
                         bool allow_empty, ml_labels *out);
/* Allocates output `out_index` ([n] int64 or string) and writes
 * labels[idx[i]] for each row. idx values must be < labels->n. */
ml_status ml_write_labels(ml_kernel_ctx *ctx, size_t out_index, const ml_labels *labels,
                          const int64_t *idx, size_t n);

/* Rows per parallel chunk so that each chunk does about `work` units. */
size_t ml_rows_per_chunk(size_t row_cost);

/* ---- key tables (ml_lookup.c) ---- */
typedef enum { ML_LK_STR, ML_LK_INT, ML_LK_DBL } ml_lk_kind;

typedef struct ml_lk_entry {
    ml_str s;
    int64_t i;
    double d;
    int32_t pos; /* index in the attribute list */
} ml_lk_entry;

typedef struct ml_lut {
    ml_lk_kind kind;
    size_t n;
    ml_lk_entry *e;  /* sorted by key, then pos */
    int32_t nan_pos; /* float keys: position of a NaN key, or -1 */
} ml_lut;

/* Builds a table over n keys given as strings (borrowed), int64s or doubles. */
ml_status ml_lut_build(ml_lut *t, ml_lk_kind kind, size_t n, const ml_str *s, const int64_t *i,
                       const double *d);
void ml_lut_free(ml_lut *t);
/* Position of the key in the original list, or -1. */
int32_t ml_lut_find(const ml_lut *t, const ml_str *s, int64_t i, double d);
/* Looks up element k of x, whose dtype must fit the key kind. */
int32_t ml_lut_find_elem(const ml_lut *t, const ml_tensor *x, size_t k);
/* True when a tensor of dtype dt can be looked up in a table of kind k. */
bool ml_lut_dtype_fits(ml_lk_kind k, ml_dtype dt);

#endif
