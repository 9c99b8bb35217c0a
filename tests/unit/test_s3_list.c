/* The pagination walker behind the three S3 listings (ListObjectsV2, ListMultipartUploads,
 * ListParts), driven over canned pages instead of a network: each case scripts the exact query
 * of every page and the answer to it. A truncated page whose markers do not move must fail,
 * not loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

#define MAX_EXCHANGES 4

struct exchange {
    const char *query;   /* what the walker must ask for */
    const char *answer;  /* the page; NULL: the fetch fails (SL_ES3_RETRY) */
};

struct script {
    const struct exchange *ex;
    size_t n_ex;
    const char *key;     /* the key every page must be asked on (NULL: the bucket) */
    size_t calls;
};

static enum sl_err fetch(void *ud, const char *key, const char *query, struct buf *page)
{
    struct script *s = ud;
    if (s->calls >= s->n_ex || !s->ex[s->calls].query)
        return SL_EINTERNAL;   /* asked for more pages than the case has: a loop */
    const struct exchange *x = &s->ex[s->calls++];
    if (s->key)
        assert_string_equal(key, s->key);
    else
        assert_null(key);
    assert_string_equal(query, x->query);
    buf_reset(page);
    return x->answer ? buf_puts(page, x->answer) : SL_ES3_RETRY;
}

enum kind { OBJECTS, UPLOADS, PARTS };

/* an entry as text, to compare: "key size mtime", "key id initiated", "number etag size" */
static void describe(enum kind k, const void *v, size_t i, char *out, size_t cap)
{
    if (k == OBJECTS) {
        const struct s3_object *o = (const struct s3_object *)v + i;
        snprintf(out, cap, "%s %llu %lld", o->key, (unsigned long long)o->size,
                 (long long)o->last_modified);
    } else if (k == UPLOADS) {
        const struct s3_upload *u = (const struct s3_upload *)v + i;
        snprintf(out, cap, "%s %s %lld", u->key, u->upload_id, (long long)u->initiated);
    } else {
        const struct s3_part *p = (const struct s3_part *)v + i;
        snprintf(out, cap, "%d %s %llu", p->number, p->etag, (unsigned long long)p->size);
    }
}

static void spec_of(enum kind k, struct s3_list_spec *spec)
{
    if (k == OBJECTS)
        s3_list_objects_spec(spec, "up/");
    else if (k == UPLOADS)
        s3_list_uploads_spec(spec, "up/");
    else
        s3_list_parts_spec(spec, "up/k", "U+1");
}

#define OBJ(key, size) \
    "<Contents><Key>" key "</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>" \
    "<Size>" #size "</Size></Contents>"
#define UPL(key, id) \
    "<Upload><Key>" key "</Key><UploadId>" id "</UploadId>" \
    "<Initiated>2024-01-02T03:04:05.000Z</Initiated></Upload>"
#define PART(n, etag, size) \
    "<Part><PartNumber>" #n "</PartNumber><ETag>" etag "</ETag><Size>" #size "</Size></Part>"
#define MORE(next) "<IsTruncated>true</IsTruncated>" next
#define LAST "<IsTruncated>false</IsTruncated>"

#define Q_OBJ "list-type=2&prefix=up%2F"
#define Q_UPL "uploads=&max-uploads=1000&prefix=up%2F"
#define Q_PART(marker) "max-parts=1000&part-number-marker=" marker "&uploadId=U%2B1"
#define T_2024 "1704164645"   /* 2024-01-02T03:04:05Z */

struct list_case {
    const char *name;
    enum kind kind;
    struct exchange ex[MAX_EXCHANGES];
    enum sl_err want;
    size_t want_n;
    const char *first, *last;   /* describe() of the first and last entry */
};

static const struct list_case cases[] = {
    {"objects: one page", OBJECTS,
     {{Q_OBJ, "<ListBucketResult>" OBJ("up/a", 1) OBJ("up/b&amp;c", 22) LAST
              "</ListBucketResult>"}},
     SL_OK, 2, "up/a 1 " T_2024, "up/b&c 22 " T_2024},
    {"objects: three pages", OBJECTS,
     {{Q_OBJ, OBJ("up/a", 1) OBJ("up/b", 2) MORE("<NextContinuationToken>t/1=</NextContinuationToken>")},
      {"continuation-token=t%2F1%3D&" Q_OBJ,
       OBJ("up/c", 3) MORE("<NextContinuationToken>t2</NextContinuationToken>")},
      {"continuation-token=t2&" Q_OBJ, OBJ("up/d", 4) LAST}},
     SL_OK, 4, "up/a 1 " T_2024, "up/d 4 " T_2024},
    {"objects: empty", OBJECTS, {{Q_OBJ, "<ListBucketResult>" LAST "</ListBucketResult>"}}, SL_OK,
     0, NULL, NULL},
    {"objects: a page that answers nothing at all", OBJECTS, {{Q_OBJ, ""}}, SL_OK, 0, NULL, NULL},
    {"objects: a marker that does not advance", OBJECTS,
     {{Q_OBJ, OBJ("up/a", 1) MORE("<NextContinuationToken>t1</NextContinuationToken>")},
      {"continuation-token=t1&" Q_OBJ,
       OBJ("up/b", 2) MORE("<NextContinuationToken>t1</NextContinuationToken>")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"objects: truncated without a marker", OBJECTS, {{Q_OBJ, OBJ("up/a", 1) MORE("")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"objects: malformed, cut inside an entry", OBJECTS,
     {{Q_OBJ, OBJ("up/a", 1) "<Contents><Key>up/b</Key><Size>2"}}, SL_OK, 1, "up/a 1 " T_2024,
     "up/a 1 " T_2024},
    {"objects: malformed, not XML", OBJECTS, {{Q_OBJ, "<<<>>>&&& <Contents"}}, SL_OK, 0, NULL,
     NULL},
    {"objects: malformed, a bad entity reads as empty", OBJECTS,
     {{Q_OBJ, "<Contents><Key>a&bogus;</Key><Size>x</Size></Contents>" LAST}}, SL_OK, 1, " 0 0",
     " 0 0"},
    {"objects: malformed and truncated: refused", OBJECTS,
     {{Q_OBJ, MORE("<NextContinuationToken>t1") OBJ("up/a", 1)}}, SL_ES3_REJECTED, 0, NULL, NULL},
    {"objects: the second page fails", OBJECTS,
     {{Q_OBJ, OBJ("up/a", 1) MORE("<NextContinuationToken>t1</NextContinuationToken>")},
      {"continuation-token=t1&" Q_OBJ, NULL}},
     SL_ES3_RETRY, 0, NULL, NULL},

    {"uploads: key-marker and upload-id-marker", UPLOADS,
     {{Q_UPL, UPL("up/a", "1") UPL("up/a", "2")
                  MORE("<NextKeyMarker>up/a</NextKeyMarker><NextUploadIdMarker>2</NextUploadIdMarker>")},
      /* the same key, a later upload id: that moves forward */
      {"uploads=&key-marker=up%2Fa&max-uploads=1000&prefix=up%2F&upload-id-marker=2",
       UPL("up/a", "3")
           MORE("<NextKeyMarker>up/a</NextKeyMarker><NextUploadIdMarker>3</NextUploadIdMarker>")},
      /* a later key without an upload id marker: key-marker alone */
      {"uploads=&key-marker=up%2Fa&max-uploads=1000&prefix=up%2F&upload-id-marker=3",
       UPL("up/b", "4") MORE("<NextKeyMarker>up/b</NextKeyMarker><NextUploadIdMarker/>")},
      {"uploads=&key-marker=up%2Fb&max-uploads=1000&prefix=up%2F", UPL("up/c", "5") LAST}},
     SL_OK, 5, "up/a 1 " T_2024, "up/c 5 " T_2024},
    {"uploads: neither marker advances", UPLOADS,
     {{Q_UPL, UPL("up/a", "1")
                  MORE("<NextKeyMarker>up/a</NextKeyMarker><NextUploadIdMarker>1</NextUploadIdMarker>")},
      {"uploads=&key-marker=up%2Fa&max-uploads=1000&prefix=up%2F&upload-id-marker=1",
       UPL("up/a", "1")
           MORE("<NextKeyMarker>up/a</NextKeyMarker><NextUploadIdMarker>1</NextUploadIdMarker>")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"uploads: an upload id marker without a key marker", UPLOADS,
     {{Q_UPL, UPL("up/a", "1") MORE("<NextUploadIdMarker>1</NextUploadIdMarker>")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"uploads: empty", UPLOADS, {{Q_UPL, "<ListMultipartUploadsResult>" LAST}}, SL_OK, 0, NULL,
     NULL},

    {"parts: part-number-marker", PARTS,
     {{Q_PART("0"), PART(1, "&quot;e1&quot;", 5242880) PART(2, "&quot;e2&quot;", 5242880)
                        MORE("<NextPartNumberMarker>2</NextPartNumberMarker>")},
      {Q_PART("2"), PART(3, "&quot;e3&quot;", 7) LAST}},
     SL_OK, 3, "1 \"e1\" 5242880", "3 \"e3\" 7"},
    {"parts: one page", PARTS, {{Q_PART("0"), PART(1, "\"x\"", 1) LAST}}, SL_OK, 1, "1 \"x\" 1",
     "1 \"x\" 1"},
    {"parts: the marker stays at its start", PARTS,
     {{Q_PART("0"), PART(1, "e", 1) MORE("<NextPartNumberMarker>0</NextPartNumberMarker>")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"parts: the marker stays later on", PARTS,
     {{Q_PART("0"), PART(1, "e", 1) MORE("<NextPartNumberMarker>1</NextPartNumberMarker>")},
      {Q_PART("1"), PART(2, "e", 1) MORE("<NextPartNumberMarker>1</NextPartNumberMarker>")}},
     SL_ES3_REJECTED, 0, NULL, NULL},
    {"parts: empty", PARTS, {{Q_PART("0"), "<ListPartsResult>" LAST "</ListPartsResult>"}}, SL_OK,
     0, NULL, NULL},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct list_case *c = &cases[i];
        struct s3_list_spec spec;
        spec_of(c->kind, &spec);
        struct script s = {c->ex, MAX_EXCHANGES, spec.key, 0};
        size_t scripted = 0;
        while (scripted < MAX_EXCHANGES && c->ex[scripted].query)
            scripted++;
        void *v = (void *)1;
        size_t n = 99;
        enum sl_err e = s3_list_walk(&spec, fetch, &s, &v, &n);
        if (e != c->want)
            fail_msg("%s: %s, want %s", c->name, sl_err_str(e), sl_err_str(c->want));
        if (s.calls != scripted)
            fail_msg("%s: %zu pages asked for, want %zu", c->name, s.calls, scripted);
        assert_int_equal(n, c->want_n);
        if (c->want_n == 0) {
            assert_null(v);
            continue;
        }
        char got[256];
        describe(c->kind, v, 0, got, sizeof got);
        if (strcmp(got, c->first) != 0)
            fail_msg("%s: first entry \"%s\", want \"%s\"", c->name, got, c->first);
        describe(c->kind, v, n - 1, got, sizeof got);
        if (strcmp(got, c->last) != 0)
            fail_msg("%s: last entry \"%s\", want \"%s\"", c->name, got, c->last);
        spec.free_entries(v, n);
    }
}

/* pages of `per` objects each, k-th key "up/%06d": the arrays grow far past their first size */
static char *objects_page(size_t from, size_t per, int more)
{
    struct buf b = BUF_INIT(1u << 20);
    for (size_t k = from; k < from + per; k++)
        assert_int_equal(buf_printf(&b, "<Contents><Key>up/%06zu</Key><Size>%zu</Size></Contents>",
                                    k, k), SL_OK);
    if (more)
        assert_int_equal(buf_printf(&b, MORE("<NextContinuationToken>c%zu</NextContinuationToken>"),
                                    from + per), SL_OK);
    else
        assert_int_equal(buf_puts(&b, LAST), SL_OK);
    return b.data;
}

static void test_large_listing(void **state)
{
    (void)state;
    char *p1 = objects_page(0, 1000, 1), *p2 = objects_page(1000, 1000, 1);
    char *p3 = objects_page(2000, 333, 0);
    const struct exchange ex[] = {
        {Q_OBJ, p1}, {"continuation-token=c1000&" Q_OBJ, p2}, {"continuation-token=c2000&" Q_OBJ, p3},
    };
    struct s3_list_spec spec;
    s3_list_objects_spec(&spec, "up/");
    struct script s = {ex, 3, NULL, 0};
    void *v;
    size_t n;
    assert_int_equal(s3_list_walk(&spec, fetch, &s, &v, &n), SL_OK);
    assert_int_equal(n, 2333);
    const struct s3_object *o = v;
    for (size_t k = 0; k < n; k++) {
        char want[32];
        snprintf(want, sizeof want, "up/%06zu", k);
        assert_string_equal(o[k].key, want);
        assert_int_equal(o[k].size, k);
    }
    s3_objects_free(v, n);

    /* the bound on entries in total: one over it is refused, and nothing is returned */
    spec.max_entries = 1500;
    s = (struct script){ex, 3, NULL, 0};
    assert_int_equal(s3_list_walk(&spec, fetch, &s, &v, &n), SL_ES3_REJECTED);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(s.calls, 2);
    free(p1);
    free(p2);
    free(p3);
}

/* an entry that cannot be filled stops the walk; the half-filled one is freed with the rest */
static enum sl_err failing_entry(void *entry, const char *xml, size_t len, struct buf *t)
{
    struct s3_object *o = entry;
    o->key = strdup(s3_xml_field(xml, len, "Key", t));
    return strcmp(o->key, "up/b") == 0 ? SL_ENOMEM : SL_OK;
}

static void test_entry_failure(void **state)
{
    (void)state;
    const struct exchange ex[] = {{Q_OBJ, OBJ("up/a", 1) OBJ("up/b", 2) OBJ("up/c", 3) LAST}};
    struct s3_list_spec spec;
    s3_list_objects_spec(&spec, "up/");
    spec.on_entry = failing_entry;
    struct script s = {ex, 1, NULL, 0};
    void *v;
    size_t n;
    assert_int_equal(s3_list_walk(&spec, fetch, &s, &v, &n), SL_ENOMEM);
    assert_null(v);
    assert_int_equal(n, 0);
}

/* a bounded listing (the janitor's sweep): it starts after a key, asks no page for more than
 * the bound leaves, and ends once it holds the bound, without fetching the next page */
static void test_bounded(void **state)
{
    (void)state;
#define Q_AFTER(tok, max) tok "list-type=2&max-keys=" max "&prefix=up%2F&start-after=up%2Fa"
    const struct {
        const char *name;
        size_t max;
        const char *after;
        struct exchange ex[MAX_EXCHANGES];
        size_t want_n;
        const char *last;
    } bc[] = {
        {"cut in the second page", 3, "up/a",
         {{Q_AFTER("", "3"), OBJ("up/b", 1) OBJ("up/c", 2) MORE("<NextContinuationToken>t1</NextContinuationToken>")},
          {Q_AFTER("continuation-token=t1&", "3"),
           OBJ("up/d", 3) OBJ("up/e", 4) MORE("<NextContinuationToken>t2</NextContinuationToken>")}},
         3, "up/d"},
        {"a full first page: no second one is fetched", 2, "up/a",
         {{Q_AFTER("", "2"), OBJ("up/b", 1) OBJ("up/c", 2) MORE("<NextContinuationToken>t1</NextContinuationToken>")}},
         2, "up/c"},
        {"the end comes before the bound", 5, "up/a",
         {{Q_AFTER("", "5"), OBJ("up/b", 1) MORE("<NextContinuationToken>t1</NextContinuationToken>")},
          {Q_AFTER("continuation-token=t1&", "5"), OBJ("up/c", 2) LAST}},
         2, "up/c"},
        {"from the start: no start-after", 1, NULL,
         {{"list-type=2&max-keys=1&prefix=up%2F", OBJ("up/a", 1) MORE("<NextContinuationToken>t</NextContinuationToken>")}},
         1, "up/a"},
        {"a page is never asked for more than 1000", 2500, "up/a",
         {{Q_AFTER("", "1000"), OBJ("up/b", 1) LAST}}, 1, "up/b"},
    };
#undef Q_AFTER
    for (size_t i = 0; i < sizeof bc / sizeof bc[0]; i++) {
        struct s3_list_spec spec;
        char keys[24];
        s3_list_objects_after_spec(&spec, "up/", bc[i].after, bc[i].max, keys);
        size_t scripted = 0;
        while (scripted < MAX_EXCHANGES && bc[i].ex[scripted].query)
            scripted++;
        struct script s = {bc[i].ex, scripted, NULL, 0};
        void *v;
        size_t n;
        enum sl_err e = s3_list_walk(&spec, fetch, &s, &v, &n);
        if (e != SL_OK || s.calls != scripted || n != bc[i].want_n)
            fail_msg("%s: %s, %zu pages (want %zu), %zu entries (want %zu)", bc[i].name,
                     sl_err_str(e), s.calls, scripted, n, bc[i].want_n);
        assert_string_equal(((struct s3_object *)v)[n - 1].key, bc[i].last);
        spec.free_entries(v, n);
    }
}

/* ListParts' LastModified is kept: the janitor's sign that an upload still moves */
static void test_part_times(void **state)
{
    (void)state;
    const struct exchange ex[] = {{Q_PART("0"),
        "<Part><PartNumber>1</PartNumber><LastModified>2024-01-02T03:04:05.000Z</LastModified>"
        "<ETag>e</ETag><Size>5</Size></Part>" PART(2, "f", 6) LAST}};
    struct s3_list_spec spec;
    s3_list_parts_spec(&spec, "up/k", "U+1");
    struct script s = {ex, 1, "up/k", 0};
    void *v;
    size_t n;
    assert_int_equal(s3_list_walk(&spec, fetch, &s, &v, &n), SL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(((struct s3_part *)v)[0].last_modified, 1704164645);
    assert_int_equal(((struct s3_part *)v)[1].last_modified, 0);   /* absent: unknown */
    spec.free_entries(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_large_listing),
        cmocka_unit_test(test_entry_failure),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_part_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
