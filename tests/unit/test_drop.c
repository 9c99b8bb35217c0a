/* Drops: ids, delete tokens, filenames from hostile clients, content types, the download
 * header, and metadata round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "drop.h"

static void test_ids_and_tokens(void **state)
{
    (void)state;
    char a[DROP_ID_LEN + 1], b[DROP_ID_LEN + 1], t[DROP_TOKEN_LEN + 1];
    assert_int_equal(drop_new_id(a), SL_OK);
    assert_int_equal(drop_new_id(b), SL_OK);
    assert_int_equal(strlen(a), DROP_ID_LEN);
    assert_true(drop_valid_id(a));
    assert_string_not_equal(a, b);
    assert_int_equal(drop_new_token(t), SL_OK);
    assert_int_equal(strlen(t), DROP_TOKEN_LEN);
    static const char *const bad[] = {"", "short", "AAAAAAAAAAAAAAAAAAAAA/", "AAAAAAAAAAAAAAAAAAAAA",
                                      "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA%2", NULL};
    for (int i = 0; bad[i]; i++)
        assert_false(drop_valid_id(bad[i]));
    assert_false(drop_valid_id(NULL));

    char h[65];
    drop_token_hash(t, h);
    assert_true(drop_token_matches(t, h));
    t[0] = t[0] == 'A' ? 'B' : 'A';
    assert_false(drop_token_matches(t, h));
    assert_false(drop_token_matches("", h));
    h[63] = '\0';
    assert_false(drop_token_matches(t, h));
    assert_false(drop_token_matches(NULL, NULL));
}

static void test_sanitize_names(void **state)
{
    (void)state;
    static const struct { const char *in; size_t n; const char *out; } t[] = {
        {"report.pdf", 10, "report.pdf"},
        {"../../etc/passwd", 16, "passwd"},
        {"C:\\Users\\me\\photo.jpg", 21, "photo.jpg"},
        {"a\r\nb.txt", 8, "ab.txt"},
        {"..", 2, "file"},
        {"", 0, "file"},
        {"dir/", 4, "file"},
        {".hidden", 7, "hidden"},
        {"  spaced  ", 10, "spaced"},
        {"trailing.", 9, "trailing"},
        {"\xc3\xbc \xc3\xb1.txt", 10, "\xc3\xbc \xc3\xb1.txt"},
        {"bad\xff\xfe.bin", 9, "bad__.bin"},
        {"nul\0byte", 8, "nulbyte"},
        {"q\"uote'<b>.html", 15, "q\"uote'<b>.html"},   /* kept; escaped wherever shown */
        {"evil\xe2\x80\xaetxt.exe", 14, "eviltxt.exe"},        /* U+202E RIGHT-TO-LEFT OVERRIDE */
        {"a\xe2\x81\xa6" "b\xe2\x81\xa9\xe2\x80\x8f.txt", 15, "ab.txt"},   /* isolates, RLM */
        {"c1\xc2\x85\xc2\x9f.txt", 10, "c1.txt"},              /* NEL and APC */
        {"\xef\xbb\xbf" "bom \xe2\x80\xa8x", 11, "bom x"},        /* BOM, LINE SEPARATOR */
        {"\xc2\xa0nbsp\xe2\x80\x8dzwj", 13, "\xc2\xa0nbsp\xe2\x80\x8dzwj"},   /* kept */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[DROP_NAME_MAX + 1];
        drop_sanitize_name(t[i].in, t[i].n, out);
        assert_string_equal(out, t[i].out);
    }
    /* long names are cut at a character boundary: 200 x "é" (2 bytes) -> 127 characters */
    char in[400], out[DROP_NAME_MAX + 1];
    for (int i = 0; i < 200; i++)
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    drop_sanitize_name(in, 400, out);
    assert_int_equal(strlen(out), 254);
    assert_int_equal((unsigned char)out[253], 0xa9);
}

static void test_content_types(void **state)
{
    (void)state;
    static const struct { const char *ct, *name, *out; } t[] = {
        {"image/PNG; charset=x", "x", "image/png"},
        {"text/plain", "x.jpg", "text/plain"},
        {"application/octet-stream", "x.JPG", "image/jpeg"},
        {NULL, "movie.mp4", "video/mp4"},
        {"bad type", "a.png", "image/png"},
        {"text/html\r\nX-Evil: 1", "a.txt", "text/plain"},
        {"/x", "a", "application/octet-stream"},
        {"x/", NULL, "application/octet-stream"},
        {NULL, "noext", "application/octet-stream"},
        {NULL, NULL, "application/octet-stream"},
        /* active content is stored as bytes: never text/html & co. on the storage origin */
        {"text/html", "a.txt", "application/octet-stream"},
        {NULL, "page.HTML", "application/octet-stream"},
        {"image/svg+xml", "a.svg", "application/octet-stream"},
        {NULL, "x.svg", "application/octet-stream"},
        {"application/rss+xml", "x", "application/octet-stream"},
        {"Text/JavaScript", "x", "application/octet-stream"},
        {"application/xhtml+xml", "x", "application/octet-stream"},
        {"application/xml", "x", "application/octet-stream"},
        {"text/plain", "evil.html", "text/plain"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[128];
        drop_content_type(t[i].ct, t[i].name, out);
        assert_string_equal(out, t[i].out);
    }
}

static void test_content_disposition(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1024);
    assert_int_equal(drop_content_disposition(&b, "attachment", "a \"q\".txt"), SL_OK);
    assert_string_equal(buf_str(&b),
                        "attachment; filename=\"a _q_.txt\"; filename*=UTF-8''a%20%22q%22.txt");
    buf_reset(&b);
    assert_int_equal(drop_content_disposition(&b, "inline", "\xc3\xbc\\.txt"), SL_OK);
    assert_string_equal(buf_str(&b), "inline; filename=\"___.txt\"; filename*=UTF-8''%C3%BC%5C.txt");
    buf_free(&b);
}

static void test_meta_round_trip(void **state)
{
    (void)state;
    struct drop_meta m = {.size = 12345, .created = 1764000000};
    assert_int_equal(drop_new_id(m.id), SL_OK);
    strcpy(m.name, "r\xc3\xa9sum\xc3\xa9 (final) 100%.pdf");
    strcpy(m.content_type, "application/pdf");
    memset(m.sha256, 'a', 64);
    memset(m.token_hash, 'b', 64);
    struct s3_kv kv[DROP_META_KV];
    struct buf scratch = BUF_INIT(4096);
    size_t n;
    assert_int_equal(drop_meta_to_kv(&m, 1, kv, &n, &scratch), SL_OK);
    assert_int_equal(n, DROP_META_START);   /* what is known before the bytes */
    assert_string_equal(kv[0].name, "name");
    assert_string_equal(kv[1].name, "token-hash");
    assert_string_equal(kv[2].name, "created");
    assert_int_equal(drop_meta_to_kv(&m, 0, kv, &n, &scratch), SL_OK);
    assert_int_equal(n, DROP_META_KV);
    assert_string_equal(kv[0].value, "r%C3%A9sum%C3%A9%20%28final%29%20100%25.pdf");
    assert_string_equal(kv[3].name, "size");
    assert_string_equal(kv[3].value, "12345");
    /* what a HEAD of the record would give back (an empty object: length 0) */
    struct s3_result r = {0};
    r.content_length = 0;
    strcpy(r.content_type, "application/pdf");
    r.meta = calloc(DROP_META_KV, sizeof *r.meta);
    for (int i = 0; i < DROP_META_KV; i++) {
        r.meta[i].name = strdup(kv[i].name);
        r.meta[i].value = strdup(kv[i].value);
    }
    r.n_meta = DROP_META_KV;
    struct drop_meta back;
    assert_int_equal(drop_meta_from_result(&r, m.id, &back), SL_OK);
    assert_string_equal(back.name, m.name);
    assert_string_equal(back.sha256, m.sha256);
    assert_string_equal(back.token_hash, m.token_hash);
    assert_string_equal(back.content_type, "application/pdf");
    assert_int_equal(back.size, 12345);
    assert_int_equal(back.created, 1764000000);
    /* an object without sluice's metadata is not a drop */
    free(r.meta[4].value);
    r.meta[4].value = strdup("not-a-hash");
    assert_int_equal(drop_meta_from_result(&r, m.id, &back), SL_EBADREQ);
    s3_result_free(&r);
    buf_free(&scratch);
}

static struct s3_result head_of(const char *const kv[][2], size_t n)
{
    struct s3_result r = {0};
    strcpy(r.content_type, "text/html");
    r.meta = calloc(n, sizeof *r.meta);
    for (size_t i = 0; i < n; i++) {
        r.meta[i].name = strdup(kv[i][0]);
        r.meta[i].value = strdup(kv[i][1]);
    }
    r.n_meta = n;
    return r;
}

/* a reservation's pending record: what the "uploading" page shows, never taken for a drop */
static void test_pending_record(void **state)
{
    (void)state;
    const char *id = "AAAAAAAAAAAAAAAAAAAAAA";
    const char *const kv[][2] = {{"state", "pending"}, {"created", "1764000000"},
                                 {"size", "5"}, {"name", "a%20b%E2%80%AE.txt"},
                                 {"autocommit", "yes"}};
    struct s3_result r = head_of(kv, 5);
    struct drop_meta m;
    int ac = 0;
    assert_int_equal(drop_pending_from_result(&r, id, &m, &ac), SL_OK);
    assert_string_equal(m.name, "a b.txt");   /* sanitised like a record's (no U+202E) */
    assert_int_equal(m.size, 5);
    assert_int_equal(m.created, 1764000000);
    assert_string_equal(m.content_type, "application/octet-stream");   /* active type */
    assert_string_equal(m.image, "none");
    assert_int_equal(ac, 1);
    /* no sha256, no token hash: not a record, for this reader or an older one */
    assert_int_equal(drop_meta_from_result(&r, id, &m), SL_EBADREQ);
    assert_int_equal(drop_pending_from_result(&r, "short", &m, &ac), SL_EBADREQ);
    s3_result_free(&r);
    const char *const not_pending[][2] = {{"state", "committed"}, {"created", "1"},
                                          {"size", "5"}, {"name", "x"}};
    r = head_of(not_pending, 4);
    assert_int_equal(drop_pending_from_result(&r, id, &m, &ac), SL_EBADREQ);
    s3_result_free(&r);
    const char *const bad_size[][2] = {{"state", "pending"}, {"created", "1"},
                                       {"size", "5x"}, {"name", "x"}};
    r = head_of(bad_size, 4);
    assert_int_equal(drop_pending_from_result(&r, id, &m, &ac), SL_EBADREQ);
    s3_result_free(&r);
    const char *const no_name[][2] = {{"state", "pending"}, {"created", "1"}, {"size", "5"}};
    r = head_of(no_name, 3);
    assert_int_equal(drop_pending_from_result(&r, id, &m, &ac), SL_EBADREQ);
    s3_result_free(&r);
}

static void test_pct_decode(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(64);
    assert_int_equal(drop_pct_decode(&b, "a%20b%2F%c3%bc", 14), SL_OK);
    assert_string_equal(buf_str(&b), "a b/\xc3\xbc");
    buf_reset(&b);
    assert_int_equal(drop_pct_decode(&b, "a%00b", 5), SL_EBADREQ);
    buf_reset(&b);
    assert_int_equal(drop_pct_decode(&b, "a%2", 3), SL_EBADREQ);
    buf_reset(&b);
    assert_int_equal(drop_pct_decode(&b, "%zz", 3), SL_EBADREQ);
    buf_free(&b);
}

/* how often a moving upload rewrites its marker: a quarter of reserve_ttl, at most 5 min (the
 * janitor adds the same to the marker's time) */
static void test_touch_every(void **state)
{
    (void)state;
    assert_int_equal(drop_touch_every(2), 0);          /* tests: every call */
    assert_int_equal(drop_touch_every(60), 15);
    assert_int_equal(drop_touch_every(3600), 300);     /* the default: every 5 min */
    assert_int_equal(drop_touch_every(30 * 86400), 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_tokens),
        cmocka_unit_test(test_sanitize_names),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_content_disposition),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test(test_pending_record),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_touch_every),
    };
    return cmocka_run_group_tests_name("drop", tests, NULL, NULL);
}
