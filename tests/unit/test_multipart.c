/* The streaming multipart/form-data parser: the same parts whatever the chunking, near-miss
 * delimiters inside data, and every kind of malformed body refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "multipart.h"

struct seen {
    struct buf log;     /* "begin name=.. filename=.. type=..|data...|end|" */
    int parts;
    int fail_on_data;
};

static enum sl_err on_begin(void *ud, const struct mp_part *p)
{
    struct seen *s = ud;
    s->parts++;
    return buf_printf(&s->log, "[%s|%s%s|%s]", p->name, p->has_filename ? "F:" : "",
                      p->filename, p->content_type);
}

static enum sl_err on_data(void *ud, const void *d, size_t n)
{
    struct seen *s = ud;
    if (s->fail_on_data)
        return SL_ES3_RETRY;
    return buf_append(&s->log, d, n);
}

static enum sl_err on_end(void *ud)
{
    struct seen *s = ud;
    return buf_puts(&s->log, "<end>");
}

static const struct mp_callbacks cbs = {on_begin, on_data, on_end};

/* feed body in chunks of the given sizes (cycled); returns the finish code */
static enum sl_err parse(const char *boundary, const char *body, size_t len, size_t chunk,
                         struct seen *s)
{
    struct mp_parser *p;
    buf_init(&s->log, 1 << 20);
    s->parts = 0;
    assert_int_equal(mp_new(boundary, &cbs, s, &p), SL_OK);
    enum sl_err e = SL_OK;
    for (size_t off = 0; off < len && !e; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        e = mp_feed(p, body + off, n);
    }
    if (!e)
        e = mp_finish(p);
    mp_free(p);
    return e;
}

#define B "----WebKitFormBoundary7MA4YWxkTrZu0gW"
#define B_NEAR "----WebKitFormBoundary7MA4YWxkTrZu0gQ"   /* differs in the last byte only */
static const char browser[] =
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "holiday\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line1\r\n--" B_NEAR " not a delimiter\r\r\n-\r\n--\r\n-" B "-- also not\r\n"
    "\r\n"
    "--" B "--\r\n"
    "epilogue is ignored\r\n";

static const char expect[] =
    "[title||]holiday<end>"
    "[file|F:a \"b\".txt|text/plain]"
    "line1\r\n--" B_NEAR " not a delimiter\r\r\n-\r\n--\r\n-" B "-- also not\r\n<end>";

static void test_any_chunking_same_result(void **state)
{
    (void)state;
    size_t chunks[] = {1, 2, 3, 5, 7, 13, 38, 39, 40, 41, 64, 4096};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct seen s = {0};
        assert_int_equal(parse(B, browser, sizeof browser - 1, chunks[k], &s), SL_OK);
        assert_int_equal(s.parts, 2);
        assert_int_equal(s.log.len, sizeof expect - 1);
        assert_memory_equal(s.log.data, expect, sizeof expect - 1);
        buf_free(&s.log);
    }
}

static void test_preamble_utf8_filename_and_empty_part(void **state)
{
    (void)state;
    static const char body[] =
        "this is a preamble\r\n"
        "--xyz\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"fallback.txt\"; "
        "filename*=UTF-8''%C3%BC%20x.txt\r\n"
        "\r\n"
        "\r\n--xyz--";
    struct seen s = {0};
    assert_int_equal(parse("xyz", body, sizeof body - 1, 4096, &s), SL_OK);
    assert_string_equal(buf_str(&s.log), "[file|F:\xc3\xbc x.txt|]<end>");
    buf_free(&s.log);
}

static void test_binary_data_with_crs(void **state)
{
    (void)state;
    /* a part whose data is all CR and LF and dashes: nothing may be lost or invented */
    char body[4096];
    char data[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = "\r\n-b"[i % 4];
    int n = snprintf(body, sizeof body,
                     "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n");
    memcpy(body + n, data, 1000);
    n += 1000;
    n += snprintf(body + n, sizeof body - (size_t)n, "\r\n--b--\r\n");
    for (size_t chunk = 1; chunk < 20; chunk += 3) {
        struct seen s = {0};
        enum sl_err e = parse("b", body, (size_t)n, chunk, &s);
        /* "\r\n-b" repeated contains "\r\n--b"? no: only one dash; so it parses */
        assert_int_equal(e, SL_OK);
        const char *head = "[file|F:x|]";
        assert_memory_equal(s.log.data, head, strlen(head));
        assert_int_equal(s.log.len, strlen(head) + 1000 + strlen("<end>"));
        assert_memory_equal(s.log.data + strlen(head), data, 1000);
        buf_free(&s.log);
    }
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    static const struct { const char *body; enum sl_err want; } t[] = {
        /* truncated: no closing delimiter */
        {"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata", SL_EBADREQ},
        /* nothing at all */
        {"", SL_EBADREQ},
        /* garbage after the delimiter. "--bX" starts with our delimiter, and RFC 2046 s5.1.1
         * compares only the beginning of a line with it ("it is sufficient that the boundary
         * appear in its entirety following the CRLF"), so this is a delimiter followed by
         * garbage, refused, not a preamble line: were it skipped as preamble, the valid part
         * after it would parse (SL_OK) */
        {"--bX\r\n--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--b--", SL_EBADREQ},
        {"--b zz\r\n", SL_EBADREQ},
        {"--b\rX", SL_EBADREQ},
        {"--b-x", SL_EBADREQ},
        /* no Content-Disposition / not form-data / no name / header without colon */
        {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", SL_EBADREQ},
        {"--b\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--b--", SL_EBADREQ},
        {"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", SL_EBADREQ},
        {"--b\r\nContent-Disposition: form-data; name=\"f\"\r\nbogus\r\n\r\nx\r\n--b--",
         SL_EBADREQ},
        {"--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--", SL_EBADREQ},
        /* headers and no body start */
        {"--b\r\n\r\n", SL_EBADREQ},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct seen s = {0};
        enum sl_err e = parse("b", t[i].body, strlen(t[i].body), 3, &s);
        assert_int_equal(e, t[i].want);
        buf_free(&s.log);
    }
}

static void test_limits(void **state)
{
    (void)state;
    /* a header block over MP_HEADERS_MAX */
    struct buf b = BUF_INIT(1 << 20);
    buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Pad: ");
    for (int i = 0; i < MP_HEADERS_MAX; i++)
        buf_putc(&b, 'a');
    buf_puts(&b, "\r\n\r\nx\r\n--b--");
    struct seen s = {0};
    assert_int_equal(parse("b", b.data, b.len, 1000, &s), SL_ETOOBIG);
    buf_free(&s.log);
    /* more parts than MP_PARTS_MAX */
    buf_reset(&b);
    for (int i = 0; i <= MP_PARTS_MAX; i++)
        buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n");
    buf_puts(&b, "--b--");
    assert_int_equal(parse("b", b.data, b.len, 1000, &s), SL_ETOOBIG);
    buf_free(&s.log);
    buf_free(&b);
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    struct seen s = {.fail_on_data = 1};
    assert_int_equal(parse(B, browser, sizeof browser - 1, 10, &s), SL_ES3_RETRY);
    buf_free(&s.log);
}

static void test_boundary_parameter(void **state)
{
    (void)state;
    static const struct { const char *ct, *b; } ok[] = {
        {"multipart/form-data; boundary=abc", "abc"},
        {"multipart/form-data; charset=utf-8; boundary=\"a b:c\"", "a b:c"},
        {"Multipart/Form-Data;boundary=" B, B},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char b[MP_BOUNDARY_MAX + 1];
        assert_int_equal(mp_boundary(ok[i].ct, b), SL_OK);
        assert_string_equal(b, ok[i].b);
    }
    static const char *const bad[] = {
        "text/plain; boundary=abc", "multipart/form-data", "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"abc", "multipart/form-data; boundary=a\rb",
        "multipart/form-data; boundary=01234567890123456789012345678901234567890123456789"
        "012345678901234567890",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        char b[MP_BOUNDARY_MAX + 1];
        assert_int_equal(mp_boundary(bad[i], b), SL_EBADREQ);
    }
    char b[MP_BOUNDARY_MAX + 1];
    assert_int_equal(mp_boundary(NULL, b), SL_EBADREQ);
    struct mp_parser *p;
    assert_int_equal(mp_new("", &cbs, NULL, &p), SL_EBADREQ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_chunking_same_result),
        cmocka_unit_test(test_preamble_utf8_filename_and_empty_part),
        cmocka_unit_test(test_binary_data_with_crs),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_boundary_parameter),
    };
    return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
