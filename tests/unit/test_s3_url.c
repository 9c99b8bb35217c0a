/* The pure half of the S3 client: endpoints, addressing styles, presigned URLs (the S3
 * documentation's example reproduced through s3_presign) and POST policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"
#include "sigv4.h"

static struct s3_config example_cfg(void)
{
    struct s3_config c = {0};
    c.endpoint = "https://s3.amazonaws.com";
    c.region = "us-east-1";
    c.bucket = "examplebucket";
    c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    return c;
}

static time_t t_2013(void)
{
    struct tm tm = {.tm_year = 113, .tm_mon = 4, .tm_mday = 24};
    return timegm(&tm);
}

static void test_endpoints(void **state)
{
    (void)state;
    static const struct { const char *url; const char *host; int port, def, v6; } ok[] = {
        {"http://127.0.0.1:7480", "127.0.0.1", 7480, 0, 0},
        {"https://S3.Example.COM/", "s3.example.com", 443, 1, 0},
        {"http://[::1]:9000", "::1", 9000, 0, 1},
        {"http://localhost:80", "localhost", 80, 1, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct s3_endpoint ep;
        assert_int_equal(s3_parse_endpoint(ok[i].url, &ep), SL_OK);
        assert_string_equal(ep.host, ok[i].host);
        assert_int_equal(ep.port, ok[i].port);
        assert_int_equal(ep.default_port, ok[i].def);
        assert_int_equal(ep.ipv6, ok[i].v6);
    }
    static const char *const bad[] = {
        "ftp://x", "http://", "http://host:0", "http://host:70000", "http://host/path",
        "http://user@host", "http://ho st", "http://[::1", "127.0.0.1:7480", "http://host:12ab",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct s3_endpoint ep;
        assert_int_equal(s3_parse_endpoint(bad[i], &ep), SL_ECONFIG);
    }
}

static void test_addressing(void **state)
{
    (void)state;
    struct s3_config c = example_cfg();
    c.endpoint = "http://127.0.0.1:7480";
    c.path_style = 1;
    struct buf url = BUF_INIT(4096), host = BUF_INIT(4096), path = BUF_INIT(4096);
    assert_int_equal(s3_url(&c, "a b/ü+.txt", "uploads", &url, &host, &path), SL_OK);
    assert_string_equal(buf_str(&url),
                        "http://127.0.0.1:7480/examplebucket/a%20b/%C3%BC%2B.txt?uploads");
    assert_string_equal(buf_str(&host), "127.0.0.1:7480");
    assert_string_equal(buf_str(&path), "/examplebucket/a%20b/%C3%BC%2B.txt");
    assert_int_equal(s3_url(&c, NULL, NULL, &url, &host, &path), SL_OK);
    assert_string_equal(buf_str(&url), "http://127.0.0.1:7480/examplebucket");

    c.path_style = 0;
    c.endpoint = "https://s3.amazonaws.com:443";
    assert_int_equal(s3_url(&c, "k", NULL, &url, &host, &path), SL_OK);
    assert_string_equal(buf_str(&url), "https://examplebucket.s3.amazonaws.com/k");
    assert_string_equal(buf_str(&host), "examplebucket.s3.amazonaws.com");

    c.endpoint = NULL;   /* AWS's own regional endpoint */
    c.region = "eu-west-1";
    assert_int_equal(s3_url(&c, "k", NULL, &url, &host, &path), SL_OK);
    assert_string_equal(buf_str(&url), "https://examplebucket.s3.eu-west-1.amazonaws.com/k");

    c.path_style = 1;
    c.endpoint = "http://[::1]:9000";
    assert_int_equal(s3_url(&c, "k", NULL, &url, &host, &path), SL_OK);
    assert_string_equal(buf_str(&url), "http://[::1]:9000/examplebucket/k");
    assert_string_equal(buf_str(&host), "[::1]:9000");

    c.bucket = "bad/bucket";
    assert_int_equal(s3_url(&c, "k", NULL, &url, &host, &path), SL_ECONFIG);
    buf_free(&url);
    buf_free(&host);
    buf_free(&path);
}

static void test_presign_doc_example(void **state)
{
    (void)state;
    struct s3_config c = example_cfg();
    c.path_style = 0;
    struct buf url = BUF_INIT(4096);
    assert_int_equal(s3_presign(&c, "GET", "test.txt", NULL, NULL, 0, 86400, t_2013(), &url),
                     SL_OK);
    assert_string_equal(buf_str(&url),
                        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-"
                        "HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-"
                        "1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-"
                        "Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835"
                        "f995330da4c265957d157751f604d404");
    /* path-style signs another path, so another signature */
    c.path_style = 1;
    assert_int_equal(s3_presign(&c, "GET", "test.txt", NULL, NULL, 0, 86400, t_2013(), &url),
                     SL_OK);
    assert_non_null(strstr(buf_str(&url), "https://s3.amazonaws.com/examplebucket/test.txt?"));
    assert_null(strstr(buf_str(&url), "aeeed9bb"));
    buf_free(&url);
}

static char *b64decode(const char *s)
{
    size_t n = strlen(s);
    unsigned char *out = calloc(1, n + 1);
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(len >= 0);
    while (n && s[n - 1] == '=') {  /* DecodeBlock counts padding as zero bytes */
        n--;
        len--;
    }
    out[len] = '\0';
    return (char *)out;
}

static const char *field(const struct s3_post_form *f, const char *name)
{
    for (size_t i = 0; i < f->n_fields; i++)
        if (!strcmp(f->fields[i].name, name))
            return f->fields[i].value;
    return NULL;
}

static void test_post_policy(void **state)
{
    (void)state;
    struct s3_config c = example_cfg();
    c.path_style = 0;
    c.session_token = "TOKEN";
    struct s3_post_opts o = {.key = "drops/ab\"c", .max_size = 1048576,
                             .content_type = "image/png", .success_status = 201,
                             .expires = 600};
    struct s3_post_form f;
    assert_int_equal(s3_post_policy(&c, &o, t_2013(), &f), SL_OK);
    assert_string_equal(buf_str(&f.url), "https://examplebucket.s3.amazonaws.com/");
    assert_string_equal(field(&f, "key"), "drops/ab\"c");
    assert_string_equal(field(&f, "Content-Type"), "image/png");
    assert_string_equal(field(&f, "success_action_status"), "201");
    assert_string_equal(field(&f, "x-amz-credential"),
                        "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
    assert_string_equal(field(&f, "x-amz-algorithm"), "AWS4-HMAC-SHA256");
    assert_string_equal(field(&f, "x-amz-date"), "20130524T000000Z");
    assert_string_equal(field(&f, "x-amz-security-token"), "TOKEN");
    char *json = b64decode(field(&f, "policy"));
    assert_string_equal(json,
                        "{\"expiration\":\"2013-05-24T00:10:00.000Z\",\"conditions\":["
                        "{\"bucket\":\"examplebucket\"},{\"key\":\"drops/ab\\\"c\"},"
                        "[\"content-length-range\",0,1048576],{\"Content-Type\":\"image/png\"},"
                        "{\"success_action_status\":\"201\"},{\"x-amz-credential\":"
                        "\"AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request\"},"
                        "{\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"},{\"x-amz-date\":"
                        "\"20130524T000000Z\"},{\"x-amz-security-token\":\"TOKEN\"}]}");
    free(json);
    /* the signature is the S3 POST signature over the base64 policy, with the date's key */
    struct sigv4_key k = {c.access_key_id, c.secret_access_key, NULL, "us-east-1", "s3"};
    char sig[65];
    assert_int_equal(sigv4_post_signature(&k, "20130524", field(&f, "policy"), sig), SL_OK);
    assert_string_equal(field(&f, "x-amz-signature"), sig);
    s3_post_form_free(&f);

    /* starts-with: the client names the rest of the key */
    struct s3_post_opts p = {.key = "drops/", .starts_with = 1, .expires = 60};
    assert_int_equal(s3_post_policy(&c, &p, t_2013(), &f), SL_OK);
    assert_string_equal(field(&f, "key"), "drops/${filename}");
    json = b64decode(field(&f, "policy"));
    assert_non_null(strstr(json, "[\"starts-with\",\"$key\",\"drops/\"]"));
    assert_null(strstr(json, "content-length-range"));
    free(json);
    s3_post_form_free(&f);

    struct s3_post_opts bad = {.key = "", .expires = 60};
    assert_int_equal(s3_post_policy(&c, &bad, t_2013(), &f), SL_EBADREQ);
    bad.key = "k";
    bad.expires = 8 * 86400;
    assert_int_equal(s3_post_policy(&c, &bad, t_2013(), &f), SL_EBADREQ);
}

static void test_amz_date(void **state)
{
    (void)state;
    char d[17];
    s3_amz_date(t_2013() + 3661, d);
    assert_string_equal(d, "20130524T010101Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_addressing),
        cmocka_unit_test(test_presign_doc_example),
        cmocka_unit_test(test_post_policy),
        cmocka_unit_test(test_amz_date),
    };
    return cmocka_run_group_tests_name("s3_url", tests, NULL, NULL);
}
