/* The API's JSON request bodies (fcgi/body.c over jansson): what each route accepts, what it
 * refuses, and that names come out sanitised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"

#define P(s) s, sizeof s - 1

static void test_create(void **state)
{
    (void)state;
    struct body_create b;
    assert_int_equal(body_parse_create(P("{\"name\": \"a \\\"b\\\" \\u00fc \\ud83d\\ude00.txt\","
                                         " \"size\": 1048576, \"content_type\": \"text/x\","
                                         " \"mode\": \"post\", \"extra\": {\"x\": [1]}}"), &b),
                     SL_OK);
    assert_string_equal(b.name, "a \"b\" \xc3\xbc \xf0\x9f\x98\x80.txt");
    assert_int_equal(b.size, 1048576);
    assert_string_equal(b.content_type, "text/x");
    assert_int_equal(b.post, 1);
    assert_int_equal(body_parse_create(P("{\"name\":\"../../etc/passwd\",\"size\":0,"
                                         "\"mode\":\"put\",\"content_type\":null}"), &b), SL_OK);
    assert_string_equal(b.name, "passwd");
    assert_int_equal(b.post, 0);
    assert_string_equal(b.content_type, "");
    static const char *const bad[] = {
        "", "[]", "{", "\"x\"", "{\"name\":\"a\"}", "{\"size\":1}", "{\"name\":1,\"size\":1}",
        "{\"name\":\"a\",\"size\":-1}", "{\"name\":\"a\",\"size\":1.5}",
        "{\"name\":\"a\",\"size\":\"1\"}", "{\"name\":\"a\",\"size\":99999999999999999999999}",
        "{\"name\":\"a\",\"size\":1,\"mode\":\"get\"}", "{\"name\":\"a\",\"size\":1,\"mode\":1}",
        "{\"name\":\"a\",\"size\":1,\"content_type\":[]}",
        "{\"name\":\"a\",\"name\":\"b\",\"size\":1}",   /* duplicates: no parser differentials */
        "{\"name\":\"a\\u0000b\",\"size\":1}", "{\"name\":\"\\ud800\",\"size\":1}",
        "{\"name\":\"tab\there\",\"size\":1}", "{name:\"a\",\"size\":1}",
        "{\"name\":\"a\",\"size\":1} x", "{\"name\":\"a\",\"size\":1,}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (body_parse_create(bad[i], strlen(bad[i]), &b) != SL_EBADREQ)
            fail_msg("accepted: %s", bad[i]);
}

static void test_reserve(void **state)
{
    (void)state;
    struct body_reserve b;
    assert_int_equal(body_parse_reserve("", 0, &b), SL_OK);
    assert_string_equal(b.name, "file");
    assert_int_equal(b.size, 0);
    assert_int_equal(body_parse_reserve(P("{\"name\":\"live.bin\",\"size\":6291456}"), &b), SL_OK);
    assert_string_equal(b.name, "live.bin");
    assert_int_equal(b.size, 6291456);
    assert_int_equal(body_parse_reserve(P("{\"name\":\"x\\u202e\\u0007y\"}"), &b), SL_OK);
    assert_null(strchr(b.name, '\a'));
    static const char *const bad[] = {"{", "[]", "{\"name\":2}", "{\"size\":-5}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (body_parse_reserve(bad[i], strlen(bad[i]), &b) != SL_EBADREQ)
            fail_msg("accepted: %s", bad[i]);
}

static void test_complete(void **state)
{
    (void)state;
    char sha[65];
    static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char ok[128];
    snprintf(ok, sizeof ok, "{\"sha256\":\"%s\"}", hex);
    assert_int_equal(body_parse_complete("", 0, sha), SL_OK);
    assert_string_equal(sha, "");
    assert_int_equal(body_parse_complete(ok, strlen(ok), sha), SL_OK);
    assert_string_equal(sha, hex);
    assert_int_equal(body_parse_complete(P("{\"sha256\":null}"), sha), SL_OK);
    assert_string_equal(sha, "");
    static const char *const bad[] = {
        "{\"sha256\":\"abc\"}", "{\"sha256\":1}", "{",
        "{\"sha256\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (body_parse_complete(bad[i], strlen(bad[i]), sha) != SL_EBADREQ)
            fail_msg("accepted: %s", bad[i]);
}

static void test_uppy_create(void **state)
{
    (void)state;
    struct body_uppy_create b;
    assert_int_equal(body_parse_uppy_create(P("{\"filename\":\"big.bin\",\"type\":\"application/"
                                              "octet-stream\",\"metadata\":{\"name\":\"big.bin\","
                                              "\"type\":\"x\",\"nested\":{\"a\":[1,2]}}}"), &b),
                     SL_OK);
    assert_string_equal(b.name, "big.bin");
    assert_string_equal(b.type, "application/octet-stream");
    assert_int_equal(body_parse_uppy_create("", 0, &b), SL_OK);
    assert_string_equal(b.name, "file");
    assert_int_equal(body_parse_uppy_create(P("{\"filename\":[]}"), &b), SL_EBADREQ);
    assert_int_equal(body_parse_uppy_create(P("[{\"filename\":\"a\"}]"), &b), SL_EBADREQ);
}

static void test_uppy_complete(void **state)
{
    (void)state;
    struct s3_part *p;
    size_t n;
    /* Uppy's own body; any order; members of its own ignored */
    assert_int_equal(body_parse_uppy_complete(P("{\"parts\":[{\"PartNumber\":2,\"ETag\":"
                                                "\"\\\"b2\\\"\"},{\"PartNumber\":1,\"ETag\":\"a1\","
                                                "\"Size\":5}],\"x\":1}"), &p, &n),
                     SL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].number, 1);
    assert_string_equal(p[0].etag, "a1");
    assert_int_equal(p[1].number, 2);
    assert_string_equal(p[1].etag, "\"b2\"");
    assert_int_equal(p[1].size, 0);
    free(p);
    static const char *const bad[] = {
        "", "{}", "[]", "{\"parts\":[]}", "{\"parts\":{}}", "{\"parts\":null}",
        "{\"parts\":[1]}", "{\"parts\":[{\"PartNumber\":1}]}",          /* no ETag */
        "{\"parts\":[{\"ETag\":\"a\"}]}", "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"\"}]}",
        "{\"parts\":[{\"PartNumber\":1,\"ETag\":1}]}",
        "{\"parts\":[{\"PartNumber\":\"1\",\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":0,\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":10001,\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":1.0,\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":2,\"ETag\":\"a\"}]}",                /* no part 1 */
        "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"a\"},{\"PartNumber\":3,\"ETag\":\"c\"}]}",
        "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"a\"},{\"PartNumber\":1,\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"a\\u0000b\"}]}",
        "{\"parts\":[{\"PartNumber\":1,\"PartNumber\":2,\"ETag\":\"a\"}]}",
        "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"a\"}],\"parts\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (body_parse_uppy_complete(bad[i], strlen(bad[i]), &p, &n) != SL_EBADREQ)
            fail_msg("accepted: %s", bad[i]);
        assert_null(p);
        assert_int_equal(n, 0);
    }
    /* an ETag up to 127 bytes (struct s3_part's), not one more */
    char big[300];
    snprintf(big, sizeof big, "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"%0127d\"}]}", 7);
    assert_int_equal(body_parse_uppy_complete(big, strlen(big), &p, &n), SL_OK);
    assert_int_equal(strlen(p[0].etag), 127);
    free(p);
    snprintf(big, sizeof big, "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"%0128d\"}]}", 7);
    assert_int_equal(body_parse_uppy_complete(big, strlen(big), &p, &n), SL_EBADREQ);
    /* 10,000 parts in reverse order: all of them, sorted */
    static char many[10000 * 40 + 32];
    size_t len = (size_t)sprintf(many, "{\"parts\":[");
    for (int i = 10000; i >= 1; i--)
        len += (size_t)sprintf(many + len, "%s{\"PartNumber\":%d,\"ETag\":\"e%d\"}",
                               i == 10000 ? "" : ",", i, i);
    len += (size_t)sprintf(many + len, "]}");
    assert_int_equal(body_parse_uppy_complete(many, len, &p, &n), SL_OK);
    assert_int_equal(n, 10000);
    assert_int_equal(p[9999].number, 10000);
    assert_string_equal(p[9999].etag, "e10000");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_uppy_create),
        cmocka_unit_test(test_uppy_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
