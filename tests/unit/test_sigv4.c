/* SigV4 against the official AWS suite (tests/data/sigv4-suite) byte for byte at every stage,
 * the S3 rule that paths are never normalised, and the S3 documentation's worked examples
 * (tests/data/s3-examples.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigv4.h"

#define SUITE TEST_DATA_DIR "/sigv4-suite"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT(1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        assert_int_equal(buf_append(&b, tmp, n), SL_OK);
    fclose(f);
    if (!b.data)
        buf_puts(&b, "");
    return b.data;
}

static char *case_file(const char *dir, const char *name, const char *ext)
{
    char path[1024];
    snprintf(path, sizeof path, SUITE "/%s/%s.%s", dir, name, ext);
    char *s = slurp(path);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

/* a raw request from a .req file, parsed the way a server would see it */
struct parsed_req {
    char method[16];
    char path[512];
    char query[512];
    struct sigv4_header h[16];
    char *names[16], *values[16];
    size_t nh;
    const char *body;
};

static void parse_req(char *req, struct parsed_req *p)
{
    memset(p, 0, sizeof *p);
    char *eol = strchr(req, '\n');
    assert_non_null(eol);
    *eol = '\0';
    char *sp = strchr(req, ' ');
    char *proto = strstr(req, " HTTP/1.1");
    assert_non_null(sp);
    assert_non_null(proto);
    *proto = '\0';
    snprintf(p->method, sizeof p->method, "%.*s", (int)(sp - req), req);
    char *target = sp + 1, *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        snprintf(p->query, sizeof p->query, "%s", q + 1);
    }
    snprintf(p->path, sizeof p->path, "%s", target);

    char *line = eol + 1;
    while (*line && *line != '\n') {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if ((line[0] == ' ' || line[0] == '\t') && p->nh > 0) {
            /* obsolete line folding: continuation of the previous value */
            char *prev = p->values[p->nh - 1];
            size_t pl = strlen(prev);
            prev = realloc(prev, pl + len + 2);
            prev[pl] = ' ';
            memcpy(prev + pl + 1, line, len);
            prev[pl + 1 + len] = '\0';
            p->values[p->nh - 1] = prev;
        } else {
            char *colon = memchr(line, ':', len);
            assert_non_null(colon);
            assert_true(p->nh < 16);
            p->names[p->nh] = strndup(line, (size_t)(colon - line));
            p->values[p->nh] = strndup(colon + 1, len - (size_t)(colon - line) - 1);
            p->nh++;
        }
        line = end ? end + 1 : line + len;
    }
    p->body = *line == '\n' ? line + 1 : "";
    for (size_t i = 0; i < p->nh; i++) {
        p->h[i].name = p->names[i];
        p->h[i].value = p->values[i];
    }
}

static void free_req(struct parsed_req *p)
{
    for (size_t i = 0; i < p->nh; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
}

static const struct sigv4_key suite_key = {
    .access_key_id = "AKIDEXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};

/* sign the case's request; the session-token case's token is added from its .creq, as the
 * suite's harness does */
static void sign_case(const char *dir, const char *name, struct sigv4_out *out)
{
    char *req = case_file(dir, name, "req");
    struct parsed_req p;
    parse_req(req, &p);
    char *creq = case_file(dir, name, "creq");
    const char *tok = strstr(creq, "\nx-amz-security-token:");
    int has_tok = 0;
    for (size_t i = 0; i < p.nh; i++)
        has_tok |= strcasecmp(p.names[i], "x-amz-security-token") == 0;
    if (tok && !has_tok) {
        tok += strlen("\nx-amz-security-token:");
        p.names[p.nh] = strdup("X-Amz-Security-Token");
        p.values[p.nh] = strndup(tok, strcspn(tok, "\n"));
        p.h[p.nh].name = p.names[p.nh];
        p.h[p.nh].value = p.values[p.nh];
        p.nh++;
    }
    char body_hash[65];
    sigv4_sha256_hex(p.body, strlen(p.body), body_hash);
    struct sigv4_request r = {
        .method = p.method, .path = p.path, .query = p.query,
        .headers = p.h, .n_headers = p.nh, .payload_hash = body_hash,
    };
    const char *date = NULL;
    for (size_t i = 0; i < p.nh; i++)
        if (strcasecmp(p.names[i], "x-amz-date") == 0)
            date = p.values[i];
    assert_non_null(date);
    assert_int_equal(sigv4_sign(&suite_key, date, &r, out), SL_OK);
    free_req(&p);
    free(creq);
    free(req);
}

struct suite_case {
    const char *dir;
    const char *name;
};

static void check_case(void **state)
{
    const struct suite_case *c = *state;
    struct sigv4_out out;
    sigv4_out_init(&out);
    sign_case(c->dir, c->name, &out);
    char *creq = case_file(c->dir, c->name, "creq");
    char *sts = case_file(c->dir, c->name, "sts");
    char *authz = case_file(c->dir, c->name, "authz");
    assert_string_equal(buf_str(&out.creq), creq);
    assert_string_equal(buf_str(&out.sts), sts);
    assert_string_equal(buf_str(&out.authorization), authz);
    free(creq);
    free(sts);
    free(authz);
    sigv4_out_free(&out);
}

/* S3 must not normalise: our canonical request equals the suite's except that the path line is
 * the request's path encoded once, as it is (not the generic normalised form). */
struct norm_case {
    const char *name;
    const char *s3_path;      /* what S3 signs */
    int generic_differs;      /* the generic rules would sign another path */
};

static void check_normalize(void **state)
{
    const struct norm_case *c = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "normalize-path/%s", c->name);
    struct sigv4_out out;
    sigv4_out_init(&out);
    sign_case(dir, c->name, &out);
    char *creq = case_file(dir, c->name, "creq");
    /* second line of each */
    const char *ours = strchr(buf_str(&out.creq), '\n') + 1;
    const char *theirs = strchr(creq, '\n') + 1;
    size_t ol = strcspn(ours, "\n"), tl = strcspn(theirs, "\n");
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)ol, ours);
    assert_string_equal(path, c->s3_path);
    if (c->generic_differs)
        assert_false(ol == tl && memcmp(ours, theirs, ol) == 0);
    /* every other line is the suite's */
    assert_int_equal(strncmp(buf_str(&out.creq), creq, (size_t)(ours - buf_str(&out.creq))), 0);
    assert_string_equal(ours + ol, theirs + tl);
    free(creq);
    sigv4_out_free(&out);
}

/* ---- S3 documentation worked examples ---- */

static const struct sigv4_key s3_key = {
    .access_key_id = "AKIAIOSFODNN7EXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
};

#define HOST "examplebucket.s3.amazonaws.com"
#define D "20130524T000000Z"

static void check_s3_example(const char *method, const char *path, const char *query,
                             const struct sigv4_header *h, size_t nh, const char *payload,
                             const char *creq_sha, const char *sig)
{
    struct sigv4_out out;
    sigv4_out_init(&out);
    struct sigv4_request r = {method, path, query, h, nh, payload};
    assert_int_equal(sigv4_sign(&s3_key, D, &r, &out), SL_OK);
    char hash[65];
    sigv4_sha256_hex(out.creq.data, out.creq.len, hash);
    assert_string_equal(hash, creq_sha);
    assert_string_equal(out.signature, sig);
    sigv4_out_free(&out);
}

static void test_s3_get_range(void **state)
{
    (void)state;
    struct sigv4_header h[] = {
        {"Host", HOST}, {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", D},
    };
    check_s3_example("GET", "/test.txt", NULL, h, 4, SIGV4_EMPTY_SHA256,
                     "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_s3_put_dollar(void **state)
{
    (void)state;
    char body_hash[65];
    sigv4_sha256_hex("Welcome to Amazon S3.", 21, body_hash);
    assert_string_equal(body_hash,
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct sigv4_header h[] = {
        {"Host", HOST}, {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", D}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256", body_hash},
    };
    /* the key as a caller has it, encoded once by sigv4_uri_encode */
    struct buf path = BUF_INIT(256);
    buf_putc(&path, '/');
    assert_int_equal(sigv4_uri_encode(&path, "test$file.text", 14, 1), SL_OK);
    assert_string_equal(buf_str(&path), "/test%24file.text");
    check_s3_example("PUT", buf_str(&path), NULL, h, 5, body_hash,
                     "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
                     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    buf_free(&path);
}

static void test_s3_lifecycle(void **state)
{
    (void)state;
    struct sigv4_header h[] = {
        {"Host", HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", D},
    };
    check_s3_example("GET", "/", "lifecycle", h, 3, SIGV4_EMPTY_SHA256,
                     "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_s3_list_objects(void **state)
{
    (void)state;
    struct sigv4_header h[] = {
        {"Host", HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", D},
    };
    /* given out of order on purpose: the canonical query sorts */
    check_s3_example("GET", "/", "prefix=J&max-keys=2", h, 3, SIGV4_EMPTY_SHA256,
                     "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
                     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_s3_presigned_url(void **state)
{
    (void)state;
    struct sigv4_out out;
    sigv4_out_init(&out);
    struct buf q = BUF_INIT(4096);
    struct sigv4_presign p = {.method = "GET", .host = HOST, .path = "/test.txt",
                              .expires = 86400};
    assert_int_equal(sigv4_presign(&s3_key, D, &p, &out, &q), SL_OK);
    char hash[65];
    sigv4_sha256_hex(out.creq.data, out.creq.len, hash);
    assert_string_equal(hash, "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    assert_string_equal(buf_str(&q),
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
                        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
                        "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* out-of-range expiry is refused, not clamped */
    p.expires = SIGV4_MAX_EXPIRES + 1;
    assert_int_equal(sigv4_presign(&s3_key, D, &p, &out, &q), SL_EBADREQ);
    p.expires = 0;
    assert_int_equal(sigv4_presign(&s3_key, D, &p, &out, &q), SL_EBADREQ);
    buf_free(&q);
    sigv4_out_free(&out);
}

static void test_s3_presigned_with_token_and_headers(void **state)
{
    (void)state;
    struct sigv4_key k = s3_key;
    k.session_token = "tok/en+=";
    struct sigv4_out out;
    sigv4_out_init(&out);
    struct buf q = BUF_INIT(4096);
    struct sigv4_header h[] = {{"Content-Type", "image/png"}, {"Content-Length", "1234"}};
    struct sigv4_presign p = {.method = "PUT", .host = "127.0.0.1:7480",
                              .path = "/bucket/a%20b", .headers = h, .n_headers = 2,
                              .expires = 600};
    assert_int_equal(sigv4_presign(&k, D, &p, &out, &q), SL_OK);
    /* the token is in the signed query, encoded; headers sorted and lower-cased */
    assert_non_null(strstr(buf_str(&q), "X-Amz-Security-Token=tok%2Fen%2B%3D&"));
    assert_non_null(strstr(buf_str(&q), "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"));
    assert_non_null(strstr(buf_str(&out.creq),
                           "content-length:1234\ncontent-type:image/png\nhost:127.0.0.1:7480\n"));
    assert_non_null(strstr(buf_str(&out.creq), "\n/bucket/a%20b\n"));
    buf_free(&q);
    sigv4_out_free(&out);
}

static void test_s3_post_policy(void **state)
{
    (void)state;
    static const char policy[] =
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAg"
        "ICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAi"
        "dXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25f"
        "cmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxf"
        "dXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQog"
        "ICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRl"
        "LWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAi"
        "Il0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMt"
        "ZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEy"
        "NTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    assert_int_equal(strlen(policy), 864);
    char sig[65];
    assert_int_equal(sigv4_post_signature(&s3_key, "20151229", policy, sig), SL_OK);
    assert_string_equal(sig, "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
}

static void test_s3_signing_key(void **state)
{
    (void)state;
    unsigned char key[32];
    char hex[65];
    assert_int_equal(sigv4_signing_key(&s3_key, "20130524", key), SL_OK);
    sigv4_hex(key, 32, hex);
    assert_string_equal(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
}

static void test_s3_chunked(void **state)
{
    (void)state;
    struct sigv4_header h[] = {
        {"Host", "s3.amazonaws.com"}, {"x-amz-date", D},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256", SIGV4_STREAMING_PAYLOAD}, {"Content-Encoding", "aws-chunked"},
        {"x-amz-decoded-content-length", "66560"}, {"Content-Length", "66824"},
    };
    struct sigv4_out out;
    sigv4_out_init(&out);
    struct sigv4_request r = {"PUT", "/examplebucket/chunkObject.txt", NULL, h, 7,
                              SIGV4_STREAMING_PAYLOAD};
    assert_int_equal(sigv4_sign(&s3_key, D, &r, &out), SL_OK);
    char hash[65];
    sigv4_sha256_hex(out.creq.data, out.creq.len, hash);
    assert_string_equal(hash, "cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455");
    assert_string_equal(out.signature,
                        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

    unsigned char key[32];
    assert_int_equal(sigv4_signing_key(&s3_key, "20130524", key), SL_OK);
    char *a = malloc(65536);
    memset(a, 'a', 65536);
    static const struct { size_t n; const char *sig; } chunks[] = {
        {65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
        {1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
        {0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
    };
    char prev[65], sig[65];
    memcpy(prev, out.signature, 65);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sigv4_chunk_signature(key, D, "20130524/us-east-1/s3/aws4_request", prev,
                                               a, chunks[i].n, sig), SL_OK);
        assert_string_equal(sig, chunks[i].sig);
        memcpy(prev, sig, 65);
    }
    free(a);
    sigv4_out_free(&out);
}

/* ---- encoding rules and bad input ---- */

static void test_uri_encode_rules(void **state)
{
    (void)state;
    static const struct { const char *in; int keep_slash; const char *out; } t[] = {
        {"a b", 1, "a%20b"}, {"a+b", 1, "a%2Bb"}, {"%", 1, "%25"}, {"a=b", 0, "a%3Db"},
        {"\xc3\xbc", 1, "%C3%BC"}, {"~-_.", 0, "~-_."}, {"a/b", 1, "a/b"}, {"a/b", 0, "a%2Fb"},
        {"$&'()*,;:@", 1, "%24%26%27%28%29%2A%2C%3B%3A%40"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(sigv4_uri_encode(&b, t[i].in, strlen(t[i].in), t[i].keep_slash), SL_OK);
        assert_string_equal(buf_str(&b), t[i].out);
        buf_free(&b);
    }
}

static void test_canonical_path_not_normalised(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } t[] = {
        {"/my-object//example//photo.user", "/my-object//example//photo.user"},
        {"/a/./b/../c", "/a/./b/../c"},
        {"/already%20encoded", "/already%20encoded"},   /* decoded then encoded once */
        {"/%7e%2a", "/~%2A"},
        {"", "/"},
        {"/", "/"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(sigv4_canonical_path(&b, t[i].in), SL_OK);
        assert_string_equal(buf_str(&b), t[i].out);
        buf_free(&b);
    }
}

static void test_canonical_query_rules(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } t[] = {
        {"uploads", "uploads="},
        {"uploadId=abc&partNumber=2", "partNumber=2&uploadId=abc"},
        {"X-Amz-Date=1&partNumber=1", "X-Amz-Date=1&partNumber=1"},  /* upper before lower */
        {"a=1+2", "a=1%2B2"},                                        /* '+' is not a space */
        {"a=x%2fy", "a=x%2Fy"},
        {"b=2&&a=1&", "a=1&b=2"},
        {"a=2&a=1", "a=1&a=2"},
        {"a=b=c", "a=b%3Dc"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(sigv4_canonical_query(&b, t[i].in), SL_OK);
        assert_string_equal(buf_str(&b), t[i].out);
        buf_free(&b);
    }
}

static void test_bad_input(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(256);
    assert_int_equal(sigv4_canonical_query(&b, "a=%zz"), SL_EBADREQ);
    assert_int_equal(sigv4_canonical_query(&b, "a=%4"), SL_EBADREQ);
    assert_int_equal(sigv4_canonical_path(&b, "/x%"), SL_EBADREQ);
    buf_free(&b);

    struct sigv4_out out;
    sigv4_out_init(&out);
    struct sigv4_header h[] = {{"Host", HOST}, {"x-amz-date", D}};
    struct sigv4_request r = {"GET", "/", NULL, h, 2, SIGV4_EMPTY_SHA256};
    assert_int_equal(sigv4_sign(&s3_key, "2013-05-24", &r, &out), SL_EBADREQ);
    assert_int_equal(sigv4_sign(&s3_key, "20130524T00000xZ", &r, &out), SL_EBADREQ);
    struct sigv4_header bad[] = {{"Ho st", HOST}, {"x-amz-date", D}};
    r.headers = bad;
    assert_int_equal(sigv4_sign(&s3_key, D, &r, &out), SL_EBADREQ);
    r.headers = h;
    struct sigv4_key k = s3_key;
    k.region = "us/east";
    assert_int_equal(sigv4_sign(&k, D, &r, &out), SL_ECONFIG);
    sigv4_out_free(&out);
}

int main(void)
{
    static const char *const cases[] = {
        "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
        "get-header-value-trim", "get-unreserved", "get-utf8", "get-vanilla",
        "get-vanilla-empty-query-key", "get-vanilla-query", "get-vanilla-query-order-encoded",
        "get-vanilla-query-order-key", "get-vanilla-query-order-key-case",
        "get-vanilla-query-order-value", "get-vanilla-query-unreserved",
        "get-vanilla-utf8-query", "get-vanilla-with-session-token", "post-header-key-case",
        "post-header-key-sort", "post-header-value-case", "post-vanilla",
        "post-vanilla-empty-query-value", "post-vanilla-query", "post-x-www-form-urlencoded",
        "post-x-www-form-urlencoded-parameters",
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    static struct suite_case sc[NC + 2];
    static const struct norm_case nc[] = {
        {"get-relative", "/example/..", 1},
        {"get-relative-relative", "/example1/example2/../..", 1},
        {"get-slash", "//", 1},
        {"get-slash-dot-slash", "/./", 1},
        {"get-slash-pointless-dot", "/./example", 1},
        {"get-slashes", "//example//", 1},
        {"get-space", "/example%20space/", 0},
        {"get-special-character", "/example/%24delete", 0},
    };
    struct CMUnitTest t[NC + 2 + 8 + 12];
    size_t n = 0;
    for (size_t i = 0; i < NC; i++) {
        sc[i].dir = sc[i].name = cases[i];
        t[n++] = (struct CMUnitTest){cases[i], check_case, NULL, NULL, &sc[i]};
    }
    sc[NC] = (struct suite_case){"post-sts-token/post-sts-header-before", "post-sts-header-before"};
    sc[NC + 1] = (struct suite_case){"post-sts-token/post-sts-header-after", "post-sts-header-after"};
    t[n++] = (struct CMUnitTest){"post-sts-header-before", check_case, NULL, NULL, &sc[NC]};
    t[n++] = (struct CMUnitTest){"post-sts-header-after", check_case, NULL, NULL, &sc[NC + 1]};
    for (size_t i = 0; i < 8; i++)
        t[n++] = (struct CMUnitTest){nc[i].name, check_normalize, NULL, NULL, (void *)&nc[i]};
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_s3_get_range),
        cmocka_unit_test(test_s3_put_dollar),
        cmocka_unit_test(test_s3_lifecycle),
        cmocka_unit_test(test_s3_list_objects),
        cmocka_unit_test(test_s3_presigned_url),
        cmocka_unit_test(test_s3_presigned_with_token_and_headers),
        cmocka_unit_test(test_s3_post_policy),
        cmocka_unit_test(test_s3_signing_key),
        cmocka_unit_test(test_s3_chunked),
        cmocka_unit_test(test_uri_encode_rules),
        cmocka_unit_test(test_canonical_path_not_normalised),
        cmocka_unit_test(test_canonical_query_rules),
    };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        t[n++] = rest[i];
    const struct CMUnitTest last[] = {cmocka_unit_test(test_bad_input)};
    struct CMUnitTest all[sizeof t / sizeof t[0] + 1];
    memcpy(all, t, n * sizeof t[0]);
    all[n++] = last[0];
    return _cmocka_run_group_tests("sigv4", all, n, NULL, NULL);
}
