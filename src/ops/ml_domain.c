/* The ai.onnx.ml operator table. Kernels live in ml_tree_*.c and
 * ml_tree5.c (tree ensembles), ml_linear.c, ml_svm.c, ml_preproc.c,
 * ml_encode.c, ml_dictvec.c, ml_castmap.c and ml_zipmap.c; shared helpers
 * in ml_common.c and ml_lookup.c. Every op accepts all ml opsets from its
 * introduction on (the domain is at version 5; later versions only added
 * types, or deprecated ops we still run). */
#include "ops/families.h"
#include "ops/ml_internal.h"

#define ML "ai.onnx.ml"

const ml_kernel ml_kernels_ml[] = {
    {ML, "TreeEnsembleClassifier", 1, 0, ml_tree_classifier_init, ml_tree_destroy,
     ml_tree_classifier_run},
    {ML, "TreeEnsembleRegressor", 1, 0, ml_tree_regressor_init, ml_tree_destroy,
     ml_tree_regressor_run},
    {ML, "TreeEnsemble", 5, 0, ml_tree_ensemble_init, ml_tree_destroy, ml_tree_regressor_run},
    {ML, "LinearClassifier", 1, 0, ml_linear_classifier_init, ml_linear_destroy,
     ml_linear_classifier_run},
    {ML, "LinearRegressor", 1, 0, ml_linear_regressor_init, ml_linear_destroy,
     ml_linear_regressor_run},
    {ML, "SVMClassifier", 1, 0, ml_svm_classifier_init, ml_svm_destroy, ml_svm_classifier_run},
    {ML, "SVMRegressor", 1, 0, ml_svm_regressor_init, ml_svm_destroy, ml_svm_regressor_run},
    {ML, "Scaler", 1, 0, NULL, NULL, ml_scaler_run},
    {ML, "Normalizer", 1, 0, NULL, NULL, ml_normalizer_run},
    {ML, "Binarizer", 1, 0, NULL, NULL, ml_binarizer_run},
    {ML, "Imputer", 1, 0, NULL, NULL, ml_imputer_run},
    {ML, "ArrayFeatureExtractor", 1, 0, NULL, NULL, ml_array_feature_extractor_run},
    {ML, "FeatureVectorizer", 1, 0, NULL, NULL, ml_feature_vectorizer_run},
    {ML, "LabelEncoder", 1, 0, ml_label_encoder_init, ml_label_encoder_destroy,
     ml_label_encoder_run},
    {ML, "CategoryMapper", 1, 0, ml_category_mapper_init, ml_category_mapper_destroy,
     ml_category_mapper_run},
    {ML, "OneHotEncoder", 1, 0, ml_one_hot_encoder_init, ml_one_hot_encoder_destroy,
     ml_one_hot_encoder_run},
    {ML, "DictVectorizer", 1, 0, ml_dict_vectorizer_init, ml_dict_vectorizer_destroy,
     ml_dict_vectorizer_run},
    {ML, "ZipMap", 1, 0, NULL, NULL, ml_zipmap_run},
    {ML, "CastMap", 1, 0, NULL, NULL, ml_cast_map_run},
    {0},
};
