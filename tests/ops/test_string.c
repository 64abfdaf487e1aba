/* Unit tests of the string family: StringNormalizer, StringSplit,
 * RegexFullMatch (RE2 -> POSIX translation), StringConcat. */
#include <stdlib.h>
#include <string.h>

#include "ops/harness.h"
#include "ops/string_internal.h"
#include "test.h"

static ml_str S(const char *s) {
    return (ml_str){(char *)s, strlen(s)};
}

static ml_attr attr_strings(const char *name, ml_str *v, size_t n) {
    return (ml_attr){.name = name, .type = ML_ATTR_STRINGS, .strings = v, .n = n};
}

static const char *str_at(const ml_tensor *t, size_t i) {
    return ((ml_str *)t->data)[i].data;
}

static void test_normalizer_lower_case_sensitive(void) {
    const char *in[] = {"monday", "tuesday", "wednesday", "thursday"};
    int64_t d[1] = {4};
    ml_tensor *x = ml_test_strings(1, d, in);
    ml_str stops[] = {S("monday")};
    ml_attr a[] = {ml_test_attr_string("case_change_action", "LOWER"),
                   ml_test_attr_int("is_case_sensitive", 1), attr_strings("stopwords", stops, 1)};
    ml_tensor *y = NULL;
    CHECK_OK(
        ml_test_run("", "StringNormalizer", 10, a, 3, 1, (const ml_tensor *const[]){x}, 1, &y));
    CHECK(y && y->rank == 1 && y->dims[0] == 3);
    if (y) {
        CHECK_STR(str_at(y, 0), "tuesday");
        CHECK_STR(str_at(y, 2), "thursday");
    }
    ml_tensor_free(x);
    ml_tensor_free(y);
}

static void test_normalizer_insensitive_upper_2d(void) {
    const char *in[] = {"Monday", "tuesday", "MONDAY", "straße", "éclair"};
    int64_t d[2] = {1, 5};
    ml_tensor *x = ml_test_strings(2, d, in);
    ml_str stops[] = {S("monday")};
    ml_attr a[] = {ml_test_attr_string("case_change_action", "UPPER"),
                   attr_strings("stopwords", stops, 1)};
    ml_tensor *y = NULL;
    CHECK_OK(
        ml_test_run("", "StringNormalizer", 10, a, 2, 1, (const ml_tensor *const[]){x}, 1, &y));
    CHECK(y && y->rank == 2 && y->dims[0] == 1 && y->dims[1] == 3);
    if (y && y->dims[1] == 3) {
        CHECK_STR(str_at(y, 0), "TUESDAY");
        CHECK_STR(str_at(y, 1), "STRAßE"); /* sharp s has no same-length upper case */
        CHECK_STR(str_at(y, 2), "ÉCLAIR");
    }
    ml_tensor_free(x);
    ml_tensor_free(y);
}

static void test_normalizer_all_removed(void) {
    const char *in[] = {"monday", "monday"};
    int64_t d[1] = {2};
    ml_tensor *x = ml_test_strings(1, d, in);
    ml_str stops[] = {S("monday")};
    ml_attr a[] = {ml_test_attr_int("is_case_sensitive", 1), attr_strings("stopwords", stops, 1)};
    ml_tensor *y = NULL;
    CHECK_OK(
        ml_test_run("", "StringNormalizer", 10, a, 2, 1, (const ml_tensor *const[]){x}, 1, &y));
    CHECK(y && y->rank == 1 && y->dims[0] == 1);
    if (y) CHECK_STR(str_at(y, 0), "");
    ml_tensor_free(x);
    ml_tensor_free(y);
}

static void test_normalizer_rejects_bad_input(void) {
    const char *in[] = {"a", "b", "c", "d"};
    int64_t d[2] = {2, 2};
    ml_tensor *x = ml_test_strings(2, d, in);
    ml_tensor *y = NULL;
    CHECK_ERR(
        ml_test_run("", "StringNormalizer", 10, NULL, 0, 1, (const ml_tensor *const[]){x}, 1, &y),
        ML_ERR_INVALID_ARGUMENT);
    ml_attr a[] = {ml_test_attr_string("case_change_action", "TITLE")};
    CHECK_ERR(
        ml_test_run("", "StringNormalizer", 10, a, 1, 1, (const ml_tensor *const[]){x}, 1, &y),
        ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

static void test_utf8_case(void) {
    char out[64];
    const char *s = "ÀÉÎÕÜŸĀŁŽΑΩДЯ";
    ml_utf8_change_case(s, strlen(s), out, 0);
    out[strlen(s)] = 0;
    CHECK_STR(out, "àéîõüÿāłžαωдя");
    const char *l = "àéîõüÿāłžαωдяς";
    ml_utf8_change_case(l, strlen(l), out, 1);
    out[strlen(l)] = 0;
    CHECK_STR(out, "ÀÉÎÕÜŸĀŁŽΑΩДЯΣ");
    /* invalid UTF-8 and 3-byte sequences pass through */
    const char *odd = "a\xff\xe2\x82\xac";
    ml_utf8_change_case(odd, strlen(odd), out, 1);
    out[strlen(odd)] = 0;
    CHECK_STR(out, "A\xff\xe2\x82\xac");
}

static void split(const char *const *in, size_t n, const char *delim, int64_t maxsplit,
                  ml_tensor **y, ml_tensor **z) {
    int64_t d[1] = {(int64_t)n};
    ml_tensor *x = ml_test_strings(1, d, in);
    ml_attr a[2];
    size_t na = 0;
    if (delim) a[na++] = ml_test_attr_string("delimiter", delim);
    if (maxsplit >= 0) a[na++] = ml_test_attr_int("maxsplit", maxsplit);
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("", "StringSplit", 20, a, na, 1, (const ml_tensor *const[]){x}, 2, out));
    *y = out[0];
    *z = out[1];
    ml_tensor_free(x);
}

static void test_split_delimiter(void) {
    const char *in[] = {"1,2,3", "a,,b", "", "x"};
    ml_tensor *y, *z;
    split(in, 4, ",", -1, &y, &z);
    CHECK(y && y->rank == 2 && y->dims[0] == 4 && y->dims[1] == 3);
    if (y && z) {
        const int64_t *c = z->data;
        CHECK_EQ_INT(c[0], 3);
        CHECK_EQ_INT(c[1], 3);
        CHECK_EQ_INT(c[2], 1); /* Python: "".split(",") == [""] */
        CHECK_EQ_INT(c[3], 1);
        CHECK_STR(str_at(y, 2), "3");
        CHECK_STR(str_at(y, 4), "");
        CHECK_STR(str_at(y, 5), "b");
        CHECK_STR(str_at(y, 9), "x");
        CHECK_STR(str_at(y, 10), "");
    }
    ml_tensor_free(y);
    ml_tensor_free(z);
}

static void test_split_whitespace_maxsplit(void) {
    const char *in[] = {"  hello   world  again ", "   ", "one"};
    ml_tensor *y, *z;
    split(in, 3, "", 1, &y, &z);
    CHECK(y && y->dims[1] == 2);
    if (y && z) {
        const int64_t *c = z->data;
        CHECK_EQ_INT(c[0], 2);
        CHECK_EQ_INT(c[1], 0);
        CHECK_EQ_INT(c[2], 1);
        CHECK_STR(str_at(y, 0), "hello");
        CHECK_STR(str_at(y, 1), "world  again "); /* remainder kept whole */
        CHECK_STR(str_at(y, 2), "");
        CHECK_STR(str_at(y, 4), "one");
    }
    ml_tensor_free(y);
    ml_tensor_free(z);
    /* multi-character delimiter, maxsplit 1 */
    const char *in2[] = {"a<>b<>c"};
    split(in2, 1, "<>", 1, &y, &z);
    if (y) {
        CHECK_EQ_INT(y->dims[1], 2);
        CHECK_STR(str_at(y, 0), "a");
        CHECK_STR(str_at(y, 1), "b<>c");
    }
    ml_tensor_free(y);
    ml_tensor_free(z);
}

static void test_split_empty_tensor(void) {
    int64_t d[2] = {0, 3};
    ml_tensor *x = ml_test_strings(2, d, NULL);
    ml_tensor *out[2] = {0};
    CHECK_OK(ml_test_run("", "StringSplit", 20, NULL, 0, 1, (const ml_tensor *const[]){x}, 2, out));
    CHECK(out[0] && out[0]->rank == 3 && out[0]->dims[0] == 0 && out[0]->dims[2] == 0);
    CHECK(out[1] && out[1]->rank == 2 && out[1]->dims[1] == 3);
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor_free(x);
}

static int regex_match(const char *pattern, const char *s) {
    int64_t d[1] = {1};
    ml_tensor *x = ml_test_strings(1, d, &s);
    ml_attr a[] = {ml_test_attr_string("pattern", pattern)};
    ml_tensor *y = NULL;
    ml_status st =
        ml_test_run("", "RegexFullMatch", 20, a, 1, 1, (const ml_tensor *const[]){x}, 1, &y);
    int r = -1;
    if (!st && y) r = ((uint8_t *)y->data)[0];
    if (st) {
        fprintf(stderr, "    regex '%s': %s\n", pattern, ml_status_message(st));
        ml_status_free(st);
    }
    ml_tensor_free(x);
    ml_tensor_free(y);
    return r;
}

static void test_regex_full_match(void) {
    /* the ONNX examples */
    CHECK_EQ_INT(regex_match("www\\.[\\w.-]+\\.\\bcom\\b", "www.google.com"), 1);
    CHECK_EQ_INT(regex_match("a\\Bb", "ab"), 1);
    CHECK_EQ_INT(regex_match("www\\.[\\w.-]+\\.com", "www.google.com"), 1);
    CHECK_EQ_INT(regex_match("www\\.[\\w.-]+\\.com", "www.facebook.com"), 1);
    CHECK_EQ_INT(regex_match("www\\.[\\w.-]+\\.com", "www.bbc.co.uk"), 0);
    CHECK_EQ_INT(
        regex_match("[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", "account@gmail.com"), 1);
    CHECK_EQ_INT(regex_match("[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", "not email"), 0);
    /* full match, not search */
    CHECK_EQ_INT(regex_match("abc", "xabc"), 0);
    CHECK_EQ_INT(regex_match("a|b", "b"), 1);
    CHECK_EQ_INT(regex_match("a|b", "ab"), 0);
    CHECK_EQ_INT(regex_match("\\d+-\\d{2}", "123-45"), 1);
    CHECK_EQ_INT(regex_match("\\D\\s\\S", "a b"), 1);
    CHECK_EQ_INT(regex_match("(?i)hello", "HeLLo"), 1);
    CHECK_EQ_INT(regex_match("(?:ab)+?c", "ababc"), 1);
    CHECK_EQ_INT(regex_match("(?P<x>a)b", "ab"), 1);
    CHECK_EQ_INT(regex_match("[\\]a-]+", "]-a"), 1);
    CHECK_EQ_INT(regex_match("[^\\d]+", "abc"), 1);
    CHECK_EQ_INT(regex_match("[^\\d]+", "a1c"), 0);
    CHECK_EQ_INT(regex_match("\\x41\\.", "A."), 1);
    CHECK_EQ_INT(regex_match("(?=a)", "a"), -1);
    CHECK_EQ_INT(regex_match("a(b", "ab"), -1);
    /* braces that are not a repetition are literal, as in RE2 */
    CHECK_EQ_INT(regex_match("a{x}", "a{x}"), 1);
    CHECK_EQ_INT(regex_match("a{2,3}", "aaa"), 1);
    CHECK_EQ_INT(regex_match("a{2,3}", "aaaa"), 0);
}

static void test_regex_translate(void) {
    char out[128];
    int ic;
    CHECK(ml_regex_translate("\\d\\w", out, sizeof out, &ic) == NULL);
    CHECK_STR(out, "^([0-9][[:alnum:]_])$");
    CHECK(ml_regex_translate("[-^a]", out, sizeof out, &ic) == NULL);
    CHECK_STR(out, "^([a^-])$");
    CHECK(ml_regex_translate("\\1", out, sizeof out, &ic) != NULL);
    CHECK(ml_regex_translate("aaaaaaaaaaaaaaaaaaaaaaaa", out, 8, &ic) != NULL); /* bounded */
}

static void test_regex_embedded_nul_and_empty(void) {
    int64_t d[1] = {2};
    ml_tensor *x = ml_test_strings(1, d, (const char *const[]){"", ""});
    CHECK_OK(ml_tensor_set_string(x, 1, "a\0b", 3));
    ml_attr a[] = {ml_test_attr_string("pattern", "a[^x]?")}; /* the whole length counts */
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run("", "RegexFullMatch", 20, a, 1, 1, (const ml_tensor *const[]){x}, 1, &y));
    if (y) {
        CHECK_EQ_INT(((uint8_t *)y->data)[0], 0);
        CHECK_EQ_INT(((uint8_t *)y->data)[1], 0); /* "a\0b" is longer than "a?" */
    }
    ml_tensor_free(x);
    ml_tensor_free(y);
}

static void test_concat_broadcast(void) {
    int64_t da[2] = {2, 1}, db[1] = {3};
    ml_tensor *a = ml_test_strings(2, da, (const char *const[]){"a", "b"});
    ml_tensor *b = ml_test_strings(1, db, (const char *const[]){"1", "2", ""});
    ml_tensor *y = NULL;
    CHECK_OK(
        ml_test_run("", "StringConcat", 20, NULL, 0, 2, (const ml_tensor *const[]){a, b}, 1, &y));
    CHECK(y && y->rank == 2 && y->dims[0] == 2 && y->dims[1] == 3);
    if (y) {
        CHECK_STR(str_at(y, 0), "a1");
        CHECK_STR(str_at(y, 2), "a");
        CHECK_STR(str_at(y, 4), "b2");
    }
    ml_tensor_free(y);
    /* incompatible shapes fail */
    int64_t dc[1] = {2};
    ml_tensor *c = ml_test_strings(1, dc, (const char *const[]){"x", "y"});
    CHECK_ERR(
        ml_test_run("", "StringConcat", 20, NULL, 0, 2, (const ml_tensor *const[]){b, c}, 1, &y),
        ML_ERR_INVALID_ARGUMENT);
    /* scalar + empty */
    ml_tensor *s = ml_test_strings(0, NULL, (const char *const[]){"!"});
    int64_t de[1] = {0};
    ml_tensor *e = ml_test_strings(1, de, NULL);
    CHECK_OK(
        ml_test_run("", "StringConcat", 20, NULL, 0, 2, (const ml_tensor *const[]){s, e}, 1, &y));
    CHECK(y && y->rank == 1 && y->dims[0] == 0);
    ml_tensor_free(y);
    CHECK_OK(
        ml_test_run("", "StringConcat", 20, NULL, 0, 2, (const ml_tensor *const[]){c, s}, 1, &y));
    if (y) CHECK_STR(str_at(y, 1), "y!");
    ml_tensor_free(y);
    ml_tensor_free(a);
    ml_tensor_free(b);
    ml_tensor_free(c);
    ml_tensor_free(s);
    ml_tensor_free(e);
}

static void test_registered_opsets(void) {
    CHECK(ml_find_kernel("", "StringNormalizer", 10) != NULL);
    CHECK(ml_find_kernel("", "StringNormalizer", 9) == NULL);
    CHECK(ml_find_kernel("", "StringSplit", 21) != NULL);
    CHECK(ml_find_kernel("", "RegexFullMatch", 20) != NULL);
    CHECK(ml_find_kernel("", "StringConcat", 22) != NULL);
}

/* Random patterns over the special characters: translation and the
 * kernel must fail cleanly or work, never read or write out of bounds. */
static void test_regex_random_patterns(void) {
    static const char alphabet[] = "ab\\[]^-(){}?*+|.:dwsDWSxQ1$,0";
    uint32_t seed = 99;
    int compiled = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char pat[16];
        size_t len = (seed = seed * 1664525u + 1013904223u) >> 28;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            pat[i] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
        }
        pat[len] = 0;
        int64_t d[1] = {3};
        ml_tensor *x = ml_test_strings(1, d, (const char *const[]){"", "ab", "a-b]("});
        ml_attr a[] = {ml_test_attr_string("pattern", pat)};
        ml_tensor *y = NULL;
        ml_status st =
            ml_test_run("", "RegexFullMatch", 20, a, 1, 1, (const ml_tensor *const[]){x}, 1, &y);
        if (!st) compiled++;
        CHECK(!st || ml_status_code(st) == ML_ERR_UNSUPPORTED ||
              ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
        ml_status_free(st);
        ml_tensor_free(y);
        ml_tensor_free(x);
    }
    CHECK(compiled > 100);
}

int main(void) {
    RUN(test_normalizer_lower_case_sensitive);
    RUN(test_normalizer_insensitive_upper_2d);
    RUN(test_normalizer_all_removed);
    RUN(test_normalizer_rejects_bad_input);
    RUN(test_utf8_case);
    RUN(test_split_delimiter);
    RUN(test_split_whitespace_maxsplit);
    RUN(test_split_empty_tensor);
    RUN(test_regex_full_match);
    RUN(test_regex_translate);
    RUN(test_regex_embedded_nul_and_empty);
    RUN(test_regex_random_patterns);
    RUN(test_concat_broadcast);
    RUN(test_registered_opsets);
    return TEST_SUMMARY();
}
