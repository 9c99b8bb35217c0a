/* The API's JSON request bodies (fcgi/body.c over jansson): what each route accepts, what it
 * refuses, and that names come out sanitised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_uppy_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
