/* Listings: objects (ListObjectsV2) and in-progress multipart uploads, and the one pagination
 * walker that they and ListParts (s3_mpu.c) go through. The walker takes its pages from a
 * fetch callback, so its logic runs without a network in tests/unit/test_s3_list.c. */
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"
#include "xml.h"

#define LIST_PAGE_MAX (16u << 20)     /* one page of a listing (1000 entries) fits easily */
#define LIST_MAX_ENTRIES 1000000      /* a sanity bound on what a listing may return in total */
#define LIST_FIRST_CAP 16

enum sl_err s3_query_add(struct buf *q, const char *name, const char *value)
{
    enum sl_err e;
    if ((e = buf_printf(q, "%s%s=", q->len ? "&" : "", name)))
        return e;
    return sigv4_uri_encode(q, value, strlen(value), 0);
}

const char *s3_xml_field(const char *xml, size_t len, const char *tag, struct buf *scratch)
{
    if (xml_get(xml, len, tag, scratch) != SL_OK)
        buf_reset(scratch);
    return buf_str(scratch);
}

/* ---- the walker ---- */

struct entries {
    char *v;
    size_t n, cap;
};

/* room for one more entry: geometric growth, never past max_entries */
static enum sl_err room_for_one(const struct s3_list_spec *spec, struct entries *a)
{
    if (a->n >= spec->max_entries)
        return SL_ES3_REJECTED;
    if (a->n < a->cap)
        return SL_OK;
    size_t cap = a->cap ? a->cap * 2 : LIST_FIRST_CAP;
    if (cap > spec->max_entries)
        cap = spec->max_entries;
    char *v = realloc(a->v, cap * spec->entry_size);
    if (!v)
        return SL_ENOMEM;
    a->v = v;
    a->cap = cap;
    return SL_OK;
}

/* the query of one page: the subresource, then params and non-empty markers by name */
static enum sl_err page_query(const struct s3_list_spec *spec, const struct buf cur[],
                              struct buf *q)
{
    struct s3_list_param all[S3_LIST_PARAMS + S3_LIST_MARKERS];
    size_t n = 0;
    enum sl_err e;
    for (size_t i = 0; i < S3_LIST_PARAMS; i++)
        if (spec->params[i].name && spec->params[i].value && *spec->params[i].value)
            all[n++] = spec->params[i];
    for (size_t i = 0; i < S3_LIST_MARKERS && spec->marker[i]; i++)
        if (cur[i].len)
            all[n++] = (struct s3_list_param){spec->marker[i], buf_str(&cur[i])};
    for (size_t i = 1; i < n; i++)   /* a handful: insertion sort */
        for (size_t j = i; j > 0 && strcmp(all[j - 1].name, all[j].name) > 0; j--) {
            struct s3_list_param t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    buf_reset(q);
    if (spec->subresource && (e = buf_printf(q, "%s=", spec->subresource)))
        return e;
    for (size_t i = 0; i < n; i++)
        if ((e = s3_query_add(q, all[i].name, all[i].value)))
            return e;
    return SL_OK;
}

/* one page's entries onto a; *more when it is truncated, with the next markers in next[] */
static enum sl_err take_page(const struct s3_list_spec *spec, const struct buf *page,
                             struct entries *a, struct buf *t, int *more, struct buf next[])
{
    size_t pos = 0, il;
    const char *in;
    enum sl_err e;
    while (xml_next(page->data, page->len, &pos, spec->entry_tag, &in, &il)) {
        if (spec->stop_at_max && a->n >= spec->max_entries) {
            *more = 0;   /* the bound ends the listing here */
            return SL_OK;
        }
        if ((e = room_for_one(spec, a)))
            return e;
        void *entry = a->v + a->n * spec->entry_size;
        memset(entry, 0, spec->entry_size);
        a->n++;   /* counted before it is filled: free_entries releases a half-filled one */
        if ((e = spec->on_entry(entry, in, il, t)))
            return e;
    }
    *more = strcmp(s3_xml_field(page->data, page->len, "IsTruncated", t), "true") == 0;
    if (!*more)
        return SL_OK;
    for (size_t i = 0; i < S3_LIST_MARKERS && spec->marker[i]; i++) {
        buf_reset(&next[i]);
        if ((e = buf_puts(&next[i], s3_xml_field(page->data, page->len, spec->next[i], t))))
            return e;
    }
    return SL_OK;
}

/* a truncated page must move forward: a first marker, and not the same markers again */
static int advances(const struct s3_list_spec *spec, const struct buf cur[],
                    const struct buf next[])
{
    if (next[0].len == 0)
        return 0;
    for (size_t i = 0; i < S3_LIST_MARKERS && spec->marker[i]; i++)
        if (strcmp(buf_str(&next[i]), buf_str(&cur[i])) != 0)
            return 1;
    return 0;
}

enum sl_err s3_list_walk(const struct s3_list_spec *spec, s3_list_fetch_fn fetch, void *ud,
                         void **out, size_t *n)
{
    struct buf q = BUF_INIT(S3_URL_MAX), page = BUF_INIT(LIST_PAGE_MAX), t = BUF_INIT(S3_URL_MAX);
    struct buf cur[S3_LIST_MARKERS], next[S3_LIST_MARKERS];
    struct entries a = {NULL, 0, 0};
    int more;
    enum sl_err e;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < S3_LIST_MARKERS; i++) {
        buf_init(&cur[i], S3_URL_MAX);
        buf_init(&next[i], S3_URL_MAX);
    }
    if (spec->first && (e = buf_puts(&cur[0], spec->first)))
        goto out;
    for (;;) {
        if ((e = page_query(spec, cur, &q)))
            goto out;
        if ((e = fetch(ud, spec->key, buf_str(&q), &page)))
            goto out;
        if ((e = take_page(spec, &page, &a, &t, &more, next)))
            goto out;
        if (!more || (spec->stop_at_max && a.n >= spec->max_entries))
            break;
        if (!advances(spec, cur, next)) {
            e = SL_ES3_REJECTED;
            goto out;
        }
        for (size_t i = 0; i < S3_LIST_MARKERS; i++) {
            struct buf tmp = cur[i];
            cur[i] = next[i];
            next[i] = tmp;
        }
    }
    *out = a.v;
    *n = a.n;
    a.v = NULL;
out:
    if (a.v)
        spec->free_entries(a.v, a.n);
    for (size_t i = 0; i < S3_LIST_MARKERS; i++) {
        buf_free(&cur[i]);
        buf_free(&next[i]);
    }
    buf_free(&q);
    buf_free(&page);
    buf_free(&t);
    return e;
}

struct client_fetch {
    struct s3_client *c;
    struct s3_result *r;
};

static enum sl_err fetch_page(void *ud, const char *key, const char *query, struct buf *page)
{
    struct client_fetch *f = ud;
    struct s3_req rq = {.op = S3_OP_LIST, .method = "GET", .key = key, .query = query,
                        .resp = page};
    return s3_perform(f->c, &rq, f->r);
}

enum sl_err s3_list_pages(struct s3_client *c, const struct s3_list_spec *spec, void **out,
                          size_t *n, struct s3_result *r)
{
    struct client_fetch f = {c, r};
    return s3_list_walk(spec, fetch_page, &f, out, n);
}

/* ---- the listings ---- */

time_t s3_parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return 0;
    return timegm(&tm);
}

static enum sl_err object_entry(void *entry, const char *xml, size_t len, struct buf *t)
{
    struct s3_object *o = entry;
    o->key = strdup(s3_xml_field(xml, len, "Key", t));
    o->size = strtoull(s3_xml_field(xml, len, "Size", t), NULL, 10);
    o->last_modified = s3_parse_iso8601(s3_xml_field(xml, len, "LastModified", t));
    return o->key ? SL_OK : SL_ENOMEM;
}

void s3_objects_free(struct s3_object *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(o[i].key);
    free(o);
}

static void objects_free(void *v, size_t n)
{
    s3_objects_free(v, n);
}

void s3_list_objects_spec(struct s3_list_spec *spec, const char *prefix)
{
    *spec = (struct s3_list_spec){
        .params = {{"list-type", "2"}, {"prefix", prefix}},
        .marker = {"continuation-token"},
        .next = {"NextContinuationToken"},
        .entry_tag = "Contents",
        .entry_size = sizeof(struct s3_object),
        .max_entries = LIST_MAX_ENTRIES,
        .on_entry = object_entry,
        .free_entries = objects_free,
    };
}

enum sl_err s3_list_objects(struct s3_client *c, const char *prefix, struct s3_object **out,
                            size_t *n, struct s3_result *r)
{
    struct s3_list_spec spec;
    void *v;
    s3_list_objects_spec(&spec, prefix);
    enum sl_err e = s3_list_pages(c, &spec, &v, n, r);
    *out = v;
    return e;
}

void s3_list_objects_after_spec(struct s3_list_spec *spec, const char *prefix,
                                const char *start_after, size_t max, char keys[24])
{
    /* a page never asks for more than the bound leaves: nothing is listed for nothing */
    snprintf(keys, 24, "%zu", max < 1000 ? max : (size_t)1000);
    s3_list_objects_spec(spec, prefix);
    spec->params[2] = (struct s3_list_param){"max-keys", keys};
    spec->params[3] = (struct s3_list_param){"start-after", start_after};
    spec->max_entries = max;
    spec->stop_at_max = 1;
}

enum sl_err s3_list_objects_after(struct s3_client *c, const char *prefix,
                                  const char *start_after, size_t max, struct s3_object **out,
                                  size_t *n, struct s3_result *r)
{
    struct s3_list_spec spec;
    char keys[24];
    void *v = NULL;
    *out = NULL;
    *n = 0;
    if (max == 0)
        return SL_OK;
    s3_list_objects_after_spec(&spec, prefix, start_after, max, keys);
    enum sl_err e = s3_list_pages(c, &spec, &v, n, r);
    *out = v;
    return e;
}

static enum sl_err upload_entry(void *entry, const char *xml, size_t len, struct buf *t)
{
    struct s3_upload *u = entry;
    u->key = strdup(s3_xml_field(xml, len, "Key", t));
    u->upload_id = strdup(s3_xml_field(xml, len, "UploadId", t));
    u->initiated = s3_parse_iso8601(s3_xml_field(xml, len, "Initiated", t));
    return u->key && u->upload_id ? SL_OK : SL_ENOMEM;
}

void s3_uploads_free(struct s3_upload *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(u[i].key);
        free(u[i].upload_id);
    }
    free(u);
}

static void uploads_free(void *v, size_t n)
{
    s3_uploads_free(v, n);
}

void s3_list_uploads_spec(struct s3_list_spec *spec, const char *prefix)
{
    *spec = (struct s3_list_spec){
        .subresource = "uploads",
        .params = {{"max-uploads", "1000"}, {"prefix", prefix}},
        .marker = {"key-marker", "upload-id-marker"},
        .next = {"NextKeyMarker", "NextUploadIdMarker"},
        .entry_tag = "Upload",
        .entry_size = sizeof(struct s3_upload),
        .max_entries = LIST_MAX_ENTRIES,
        .on_entry = upload_entry,
        .free_entries = uploads_free,
    };
}

enum sl_err s3_list_multipart_uploads(struct s3_client *c, const char *prefix,
                                      struct s3_upload **out, size_t *n, struct s3_result *r)
{
    struct s3_list_spec spec;
    void *v;
    s3_list_uploads_spec(&spec, prefix);
    enum sl_err e = s3_list_pages(c, &spec, &v, n, r);
    *out = v;
    return e;
}
