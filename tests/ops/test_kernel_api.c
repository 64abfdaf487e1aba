/* The kernel-facing API: attribute access, axis normalisation, errors. */
#include "ops/harness.h"
#include "test.h"

static void test_attr_access(void) {
    int64_t perm[] = {1, 0};
    float scales[] = {0.5f, 2.0f};
    ml_attr attrs[] = {ml_test_attr_int("axis", -1), ml_test_attr_float("alpha", 0.2f),
                       ml_test_attr_string("mode", "nearest"), ml_test_attr_ints("perm", perm, 2),
                       ml_test_attr_floats("scales", scales, 2)};
    ml_node node = {.name = "n1", .op_type = "Test", .domain = "", .n_attrs = 5, .attrs = attrs};
    CHECK_EQ_INT(ml_attr_int(&node, "axis", 0), -1);
    CHECK_EQ_INT(ml_attr_int(&node, "missing", 7), 7);
    CHECK_EQ_INT(ml_attr_int(&node, "alpha", 3), 3); /* wrong type -> default */
    CHECK_NEAR(ml_attr_float(&node, "alpha", 0), 0.2f, 1e-7);
    CHECK_NEAR(ml_attr_float(&node, "axis", 0), -1.0, 0); /* int accepted for float */
    CHECK_STR(ml_attr_string(&node, "mode", "x"), "nearest");
    CHECK_STR(ml_attr_string(&node, "nope", "x"), "x");
    const int64_t *p;
    CHECK_EQ_INT(ml_attr_ints(&node, "perm", &p), 2);
    CHECK(p[0] == 1 && p[1] == 0);
    CHECK_EQ_INT(ml_attr_ints(&node, "nope", &p), 0);
    CHECK(p == NULL);
    const float *f;
    CHECK_EQ_INT(ml_attr_floats(&node, "scales", &f), 2);
    CHECK(ml_attr_tensor(&node, "value") == NULL);
    CHECK(ml_attr_graph(&node, "body") == NULL);
}

static void test_axis_and_errors(void) {
    ml_node node = {.name = "n1", .op_type = "Concat", .domain = ""};
    int axis;
    CHECK_OK(ml_normalize_axis(&node, -1, 3, &axis));
    CHECK_EQ_INT(axis, 2);
    CHECK_OK(ml_normalize_axis(&node, 0, 0, &axis)); /* scalars accept axis 0 */
    ml_status st = ml_normalize_axis(&node, 3, 3, &axis);
    CHECK(ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ml_status_message(st), "Concat node 'n1'") != NULL);
    CHECK(strstr(ml_status_message(st), "axis 3") != NULL);
    ml_status_free(st);
    CHECK_ERR(ml_normalize_axis(&node, -4, 3, &axis), ML_ERR_INVALID_ARGUMENT);
}

static void test_unknown_op(void) {
    CHECK(ml_find_kernel("", "NoSuchOp", 17) == NULL);
    ml_tensor *out;
    CHECK_ERR(ml_test_run("", "NoSuchOp", 17, NULL, 0, 0, NULL, 1, &out), ML_ERR_UNSUPPORTED);
}

int main(void) {
    RUN(test_attr_access);
    RUN(test_axis_and_errors);
    RUN(test_unknown_op);
    return TEST_SUMMARY();
}
