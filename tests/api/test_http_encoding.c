/* Content codings: inflate bounds (decompression bombs), corrupt and
 * truncated data, unknown codings, Accept-Encoding parsing, gzip round trip. */
#include <stdlib.h>
#include <string.h>

#include "api/http_encoding.h"
#include "test.h"

static void test_round_trip_and_bounds(void) {
    size_t n = 10u << 20; /* 10 MiB of zeros: ~10 KB gzipped */
    char *zeros = calloc(n, 1);
    char *z = NULL, *out = NULL;
    size_t zl = 0, ol = 0;
    CHECK_OK(ml_http_gzip(zeros, n, &z, &zl));
    CHECK(zl < n / 100);
    CHECK((unsigned char)z[0] == 0x1f && (unsigned char)z[1] == 0x8b);
    CHECK_OK(ml_http_inflate("gzip", z, zl, n, &out, &ol));
    CHECK_EQ_INT((long)ol, (long)n);
    CHECK(out && memcmp(out, zeros, n) == 0);
    free(out);
    /* the same bytes under a 1 MiB limit: refused, nothing returned */
    out = (char *)1;
    CHECK_ERR(ml_http_inflate("gzip", z, zl, 1u << 20, &out, &ol), ML_ERR_RESOURCE_EXHAUSTED);
    CHECK(out == NULL);
    /* truncated and corrupt streams */
    CHECK_ERR(ml_http_inflate("gzip", z, zl / 2, n, &out, &ol), ML_ERR_INVALID_ARGUMENT);
    z[12] ^= 0x55;
    z[13] ^= 0x55;
    CHECK_ERR(ml_http_inflate("gzip", z, zl, n, &out, &ol), ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_http_inflate("gzip", "not gzip at all", 15, n, &out, &ol),
              ML_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ml_http_inflate("br", "x", 1, n, &out, &ol), ML_ERR_UNSUPPORTED);
    CHECK_OK(ml_http_inflate("identity", "abc", 3, 10, &out, &ol));
    CHECK_STR(out, "abc");
    free(out);
    free(z);
    free(zeros);
}

static void test_accept_encoding(void) {
    CHECK(ml_http_accepts_gzip("gzip"));
    CHECK(ml_http_accepts_gzip("deflate, gzip;q=0.5"));
    CHECK(ml_http_accepts_gzip("br, *"));
    CHECK(ml_http_accepts_gzip("GZIP"));
    CHECK(!ml_http_accepts_gzip("gzip;q=0"));
    CHECK(!ml_http_accepts_gzip("deflate, br"));
    CHECK(!ml_http_accepts_gzip("identity"));
    CHECK(!ml_http_accepts_gzip("gzipx"));
    CHECK(!ml_http_accepts_gzip(""));
    CHECK(!ml_http_accepts_gzip(NULL));
}

int main(void) {
    RUN(test_round_trip_and_bounds);
    RUN(test_accept_encoding);
    return TEST_SUMMARY();
}
