/* bucketcfg: merging sluice's lifecycle and CORS rules into a bucket's own (libxml2). */
#include "bucketcfg.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "buf.h"

#define X(s) ((const xmlChar *)(s))
#define LINE_MAX_BYTES 2048   /* a rule's description is cut here */
#define VALUE_MAX 120         /* and each value in it here */
#define VALUES_SHOWN 8        /* and each list after this many values */

static const char s3_ns[] = "http://s3.amazonaws.com/doc/2006-03-01/";
static const char *const cors_methods[] = {"GET", "HEAD", "PUT", "POST", NULL};
static const char *const cors_headers[] = {"*", NULL};
static const char *const cors_expose[] = {"ETag", NULL};

/* ---- reading a tree: elements by local name (S3 answers in its namespace, or none) ---- */

static int is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNode *elem_from(xmlNode *n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

#define EACH(c, parent) for (xmlNode *c = elem_from((parent)->children); c; c = elem_from(c->next))

static xmlNode *child(xmlNode *parent, const char *name)
{
    EACH(c, parent) {
        if (is(c, name))
            return c;
    }
    return NULL;
}

/* 1 if element n's text is exactly want (a NULL n has none) */
static int text_is(xmlNode *n, const char *want)
{
    if (!n)
        return 0;
    xmlChar *t = xmlNodeGetContent(n);
    int same = t && !strcmp((const char *)t, want);
    xmlFree(t);
    return same;
}

/* 1 if the <name> children of parent carry exactly the values of want, as a set */
static int same_set(xmlNode *parent, const char *name, const char *const *want)
{
    size_t n_want = 0;
    while (want[n_want])
        n_want++;
    unsigned long seen = 0;   /* bit i: want[i] was found; want lists are short */
    if (n_want > sizeof seen * CHAR_BIT)
        return 0;
    EACH(c, parent) {
        if (!is(c, name))
            continue;
        size_t i = 0;
        while (i < n_want && !text_is(c, want[i]))
            i++;
        if (i == n_want)
            return 0;
        seen |= 1UL << i;
    }
    return seen == (n_want == sizeof seen * CHAR_BIT ? ~0UL : (1UL << n_want) - 1);
}

/* ---- one line per rule, printable whatever the document held ---- */

/* s with control bytes as '?', cut after max bytes (at a character boundary) */
static void put_value(struct buf *b, const xmlChar *s, size_t max)
{
    for (size_t n = 0; s && *s; s++, n++) {
        if (n >= max && (*s & 0xC0) != 0x80) {
            buf_puts(b, "...");
            return;
        }
        buf_putc(b, *s < 0x20 || *s == 0x7f ? '?' : (char)*s);
    }
}

static void put_text(struct buf *b, xmlNode *n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    put_value(b, t, VALUE_MAX);
    xmlFree(t);
}

static void put_id(struct buf *b, xmlNode *rule)
{
    xmlNode *id = child(rule, "ID");
    if (!id) {
        buf_puts(b, "(no ID)");
        return;
    }
    buf_putc(b, '\'');
    put_text(b, id);
    buf_putc(b, '\'');
}

/* " label v1 v2 ..." over the <name> children of parent */
static void put_list(struct buf *b, xmlNode *parent, const char *name, const char *label)
{
    size_t k = 0;
    EACH(c, parent) {
        if (!is(c, name))
            continue;
        if (k == VALUES_SHOWN) {
            buf_puts(b, " ...");
            break;
        }
        buf_puts(b, k++ ? " " : label);
        put_text(b, c);
    }
}

/* a malloc'd copy of the line; NULL when out of memory */
static char *line_of(struct buf *b)
{
    return b->data ? strdup(b->data) : NULL;
}

/* ---- lifecycle ---- */

/* What a lifecycle Rule says, read from any of its forms:
 *   AWS V1:  <Prefix>p</Prefix> beside <Status>
 *   AWS V2:  <Filter><Prefix>p</Prefix></Filter>, or <Filter><And><Prefix/><Tag/>..</And></Filter>
 *   RGW 16:  answers an empty <Filter/> as V1 <Prefix></Prefix>, And{Prefix, one Tag} as
 *            <Filter><Prefix/><Tag/></Filter> and And{Prefix, Tags} as
 *            <Filter><Prefix/><And><Tag/>..</And></Filter> (measured) */
struct lc_view {
    xmlNode *prefix;     /* the Prefix element wherever it is; NULL: the whole bucket */
    int v1;              /* the prefix is rule-level (V1) */
    int conditions;      /* filter conditions besides the prefix (tags, object sizes) */
    int actions_other;   /* actions besides AbortIncompleteMultipartUpload */
    xmlNode *abort;      /* AbortIncompleteMultipartUpload */
};

static void lc_filter(xmlNode *f, struct lc_view *v)
{
    EACH(c, f) {
        if (is(c, "Prefix")) {
            v->prefix = c;
        } else if (is(c, "And")) {
            EACH(a, c) {
                if (is(a, "Prefix"))
                    v->prefix = a;
                else
                    v->conditions++;
            }
        } else {
            v->conditions++;
        }
    }
}

static void lc_read(xmlNode *rule, struct lc_view *v)
{
    memset(v, 0, sizeof *v);
    EACH(c, rule) {
        if (is(c, "ID") || is(c, "Status")) {
            continue;
        } else if (is(c, "Prefix")) {
            v->prefix = c;
            v->v1 = 1;
        } else if (is(c, "Filter")) {
            lc_filter(c, v);
        } else if (is(c, "AbortIncompleteMultipartUpload") && !v->abort) {
            v->abort = c;
        } else {
            v->actions_other++;
        }
    }
}

static int lc_mine(xmlNode *rule, const void *want)
{
    (void)want;
    return text_is(child(rule, "ID"), BUCKETCFG_LIFECYCLE_ID);
}

static int lc_current(xmlNode *rule, const void *want)
{
    const char *prefix = want;
    struct lc_view v;
    lc_read(rule, &v);
    char days[24];
    snprintf(days, sizeof days, "%d", BUCKETCFG_ABORT_DAYS);
    return text_is(child(rule, "Status"), "Enabled") &&
           (v.prefix ? text_is(v.prefix, prefix) : !*prefix) && !v.conditions &&
           !v.actions_other && v.abort && text_is(child(v.abort, "DaysAfterInitiation"), days);
}

/* 'id': Enabled, prefix 'logs/' and 1 more condition, Expiration (30 days) */
static char *lc_describe(xmlNode *rule)
{
    struct buf b = BUF_INIT(LINE_MAX_BYTES);
    struct lc_view v;
    lc_read(rule, &v);
    put_id(&b, rule);
    buf_puts(&b, ": ");
    xmlNode *st = child(rule, "Status");
    if (st)
        put_text(&b, st);
    else
        buf_puts(&b, "no status");
    if (v.prefix) {
        buf_puts(&b, ", prefix '");
        put_text(&b, v.prefix);
        buf_putc(&b, '\'');
    } else if (!v.conditions) {
        buf_puts(&b, ", the whole bucket");
    }
    if (v.conditions)
        buf_printf(&b, "%s%d filter condition%s", v.prefix ? " and " : ", ", v.conditions,
                   v.conditions == 1 ? "" : "s");
    EACH(c, rule) {
        if (is(c, "ID") || is(c, "Status") || is(c, "Prefix") || is(c, "Filter"))
            continue;
        buf_puts(&b, ", ");
        put_value(&b, c->name, VALUE_MAX);
        xmlNode *days = child(c, "Days");
        if (!days)
            days = child(c, "DaysAfterInitiation");
        if (!days)
            days = child(c, "NoncurrentDays");
        if (days) {
            buf_puts(&b, " (");
            put_text(&b, days);
            buf_puts(&b, " days)");
        }
    }
    char *s = line_of(&b);
    buf_free(&b);
    return s;
}

/* 1 if a rule other than sluice's uses the rule-level (V1) prefix: AWS refuses a document
 * that mixes it with <Filter>, so sluice's rule is then written the same way */
static int lc_doc_v1(xmlNode *root)
{
    EACH(r, root) {
        if (is(r, "Rule") && !lc_mine(r, NULL) && child(r, "Prefix"))
            return 1;
    }
    return 0;
}

static xmlNode *lc_make(xmlDoc *d, xmlNs *ns, xmlNode *root, const void *want)
{
    char days[24];
    snprintf(days, sizeof days, "%d", BUCKETCFG_ABORT_DAYS);
    xmlNode *r = xmlNewDocNode(d, ns, X("Rule"), NULL), *f = r, *a = NULL;
    int ok = r && xmlNewTextChild(r, ns, X("ID"), X(BUCKETCFG_LIFECYCLE_ID));
    if (ok && !lc_doc_v1(root))
        ok = (f = xmlNewChild(r, ns, X("Filter"), NULL)) != NULL;
    ok = ok && xmlNewTextChild(f, ns, X("Prefix"), X(want)) &&
         xmlNewTextChild(r, ns, X("Status"), X("Enabled")) &&
         (a = xmlNewChild(r, ns, X("AbortIncompleteMultipartUpload"), NULL)) &&
         xmlNewTextChild(a, ns, X("DaysAfterInitiation"), X(days));
    if (!ok) {
        xmlFreeNode(r);
        return NULL;
    }
    return r;
}

/* ---- CORS ---- */

/* the elements of sluice's rule besides its origins, as older sluicectl versions wrote them */
static int cors_shape(xmlNode *rule)
{
    EACH(c, rule) {
        if (!is(c, "ID") && !is(c, "AllowedOrigin") && !is(c, "AllowedMethod") &&
            !is(c, "AllowedHeader") && !is(c, "ExposeHeader") && !is(c, "MaxAgeSeconds"))
            return 0;
    }
    int ages = 0;
    EACH(c, rule) {
        ages += is(c, "MaxAgeSeconds");
    }
    char age[24];
    snprintf(age, sizeof age, "%d", BUCKETCFG_CORS_MAX_AGE);
    return same_set(rule, "AllowedMethod", cors_methods) &&
           same_set(rule, "AllowedHeader", cors_headers) &&
           same_set(rule, "ExposeHeader", cors_expose) && ages == 1 &&
           text_is(child(rule, "MaxAgeSeconds"), age);
}

static int cors_mine(xmlNode *rule, const void *want)
{
    (void)want;
    xmlNode *id = child(rule, "ID");
    return id ? text_is(id, BUCKETCFG_CORS_ID) : cors_shape(rule);
}

static int cors_current(xmlNode *rule, const void *want)
{
    return text_is(child(rule, "ID"), BUCKETCFG_CORS_ID) && cors_shape(rule) &&
           same_set(rule, "AllowedOrigin", want);
}

/* S3's AllowedOrigin: exact, or with one '*' standing for any run of characters */
static int origin_matches(const char *pattern, const char *origin)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return !strcmp(pattern, origin);
    size_t pre = (size_t)(star - pattern), suf = strlen(star + 1), n = strlen(origin);
    return n >= pre + suf && !strncmp(origin, pattern, pre) &&
           !strcmp(origin + n - suf, star + 1);
}

/* S3 answers a request with the first rule matching its origin and method: a foreign rule
 * before sluice's for PUT or POST from one of its origins gives the browser its own headers
 * (without ETag exposed, multipart uploads cannot complete) */
static int cors_shadows(xmlNode *rule, const void *want)
{
    const char *const *origins = want;
    if (!child(rule, "AllowedMethod"))
        return 0;
    int writes = 0;
    EACH(c, rule) {
        writes |= is(c, "AllowedMethod") && (text_is(c, "PUT") || text_is(c, "POST"));
    }
    if (!writes)
        return 0;
    EACH(c, rule) {
        if (!is(c, "AllowedOrigin"))
            continue;
        xmlChar *pat = xmlNodeGetContent(c);
        int hit = 0;
        for (size_t i = 0; pat && origins[i] && !hit; i++)
            hit = origin_matches((const char *)pat, origins[i]);
        xmlFree(pat);
        if (hit)
            return 1;
    }
    return 0;
}

/* 'id': origins https://a https://b; methods GET PUT */
static char *cors_describe(xmlNode *rule)
{
    struct buf b = BUF_INIT(LINE_MAX_BYTES);
    put_id(&b, rule);
    buf_putc(&b, ':');
    put_list(&b, rule, "AllowedOrigin", " origins ");
    buf_putc(&b, ';');
    put_list(&b, rule, "AllowedMethod", " methods ");
    if (child(rule, "ExposeHeader")) {
        buf_putc(&b, ';');
        put_list(&b, rule, "ExposeHeader", " exposes ");
    }
    char *s = line_of(&b);
    buf_free(&b);
    return s;
}

static xmlNode *cors_make(xmlDoc *d, xmlNs *ns, xmlNode *root, const void *want)
{
    (void)root;
    const char *const *origins = want;
    char age[24];
    snprintf(age, sizeof age, "%d", BUCKETCFG_CORS_MAX_AGE);
    xmlNode *r = xmlNewDocNode(d, ns, X("CORSRule"), NULL);
    int ok = r && xmlNewTextChild(r, ns, X("ID"), X(BUCKETCFG_CORS_ID));
    for (size_t i = 0; ok && origins[i]; i++)
        ok = xmlNewTextChild(r, ns, X("AllowedOrigin"), X(origins[i])) != NULL;
    for (size_t i = 0; ok && cors_methods[i]; i++)
        ok = xmlNewTextChild(r, ns, X("AllowedMethod"), X(cors_methods[i])) != NULL;
    ok = ok && xmlNewTextChild(r, ns, X("AllowedHeader"), X(cors_headers[0])) &&
         xmlNewTextChild(r, ns, X("ExposeHeader"), X(cors_expose[0])) &&
         xmlNewTextChild(r, ns, X("MaxAgeSeconds"), X(age));
    if (!ok) {
        xmlFreeNode(r);
        return NULL;
    }
    return r;
}

/* ---- the merge, the same for both documents ---- */

struct kind {
    const char *root, *rule;
    int (*mine)(xmlNode *rule, const void *want);
    int (*current)(xmlNode *rule, const void *want);
    char *(*describe)(xmlNode *rule);
    xmlNode *(*make)(xmlDoc *d, xmlNs *ns, xmlNode *root, const void *want);
    int (*shadows)(xmlNode *rule, const void *want);   /* NULL: order does not matter */
};

static const struct kind lifecycle = {"LifecycleConfiguration", "Rule", lc_mine, lc_current,
                                      lc_describe, lc_make, NULL};
static const struct kind cors = {"CORSConfiguration", "CORSRule", cors_mine, cors_current,
                                 cors_describe, cors_make, cors_shadows};

/* S3's document as a tree, or a new empty one when there is none */
static enum sl_err parse(const struct kind *k, const char *cur, size_t len, xmlDoc **out)
{
    xmlDoc *d = NULL;
    if (!cur || !len) {
        xmlNode *root = NULL;
        xmlNs *ns = NULL;
        if (!(d = xmlNewDoc(X("1.0"))) || !(root = xmlNewDocNode(d, NULL, X(k->root), NULL)) ||
            !(ns = xmlNewNs(root, X(s3_ns), NULL))) {
            xmlFreeNode(root);
            xmlFreeDoc(d);
            return SL_ENOMEM;
        }
        xmlSetNs(root, ns);
        xmlDocSetRootElement(d, root);
        *out = d;
        return SL_OK;
    }
    /* no DTD: it is where entity expansion and external fetches would come from */
    if (len > INT_MAX || memmem(cur, len, "<!DOCTYPE", 9))
        return SL_EBADREQ;
    /* S3's documents are UTF-8: no declared encoding is believed, so no converter runs */
    d = xmlReadMemory(cur, (int)len, NULL, "UTF-8",
                      XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                          XML_PARSE_NOWARNING);
    if (!d || d->intSubset || !is(xmlDocGetRootElement(d), k->root)) {
        xmlFreeDoc(d);
        return SL_EBADREQ;
    }
    *out = d;
    return SL_OK;
}

static enum sl_err add_foreign(struct bucketcfg_merge *m, char *line, int shadows)
{
    struct bucketcfg_rule *f = realloc(m->foreign, (m->n_foreign + 1) * sizeof *f);
    if (!f || !line) {
        free(line);
        if (f)
            m->foreign = f;
        return SL_ENOMEM;
    }
    m->foreign = f;
    f[m->n_foreign++] = (struct bucketcfg_rule){line, shadows};
    return SL_OK;
}

static enum sl_err merge(const struct kind *k, const char *cur, size_t len, const void *want,
                         int force, struct bucketcfg_merge *m)
{
    memset(m, 0, sizeof *m);
    xmlDoc *d = NULL;
    xmlBuffer *out = NULL;
    xmlSaveCtxt *save = NULL;
    enum sl_err e = parse(k, cur, len, &d);
    if (e)
        goto out;
    xmlNode *root = xmlDocGetRootElement(d), *first = NULL;
    size_t n_mine = 0;
    EACH(r, root) {
        if (!is(r, k->rule))
            continue;
        if (k->mine(r, want)) {
            if (!n_mine++)
                first = r;
        } else if ((e = add_foreign(m, k->describe(r),
                                    k->shadows && !first && k->shadows(r, want)))) {
            goto out;
        }
    }
    if (first && !(m->mine = k->describe(first))) {
        e = SL_ENOMEM;
        goto out;
    }
    m->found = !n_mine                                  ? BUCKETCFG_ABSENT
               : n_mine == 1 && k->current(first, want) ? BUCKETCFG_CURRENT
                                                        : BUCKETCFG_STALE;
    if (m->found == BUCKETCFG_CURRENT || (m->found == BUCKETCFG_STALE && !force))
        goto out;   /* SL_OK, nothing to PUT */
    xmlNode *fresh = k->make(d, root->ns, root, want);
    if (!fresh) {
        e = SL_ENOMEM;
        goto out;
    }
    if (!first) {
        xmlAddChild(root, fresh);
    } else {
        /* in the old one's place (CORS order matters), and its duplicates go */
        xmlReplaceNode(first, fresh);
        xmlFreeNode(first);
        for (xmlNode *r = elem_from(fresh->next), *next; r; r = next) {
            next = elem_from(r->next);
            if (is(r, k->rule) && k->mine(r, want)) {
                xmlUnlinkNode(r);
                xmlFreeNode(r);
            }
        }
    }
    /* <Prefix></Prefix> stays so (RGW's own form) rather than becoming <Prefix/> */
    if (!(out = xmlBufferCreate()) ||
        !(save = xmlSaveToBuffer(out, "UTF-8", XML_SAVE_NO_EMPTY | XML_SAVE_AS_XML))) {
        e = SL_ENOMEM;
        goto out;
    }
    long written = xmlSaveDoc(save, d);
    int closed = xmlSaveClose(save);
    save = NULL;
    if (written < 0 || closed < 0) {
        e = SL_ENOMEM;
        goto out;
    }
    size_t n = (size_t)xmlBufferLength(out);
    if (!n || !(m->doc = malloc(n + 1))) {
        e = SL_ENOMEM;
        goto out;
    }
    memcpy(m->doc, xmlBufferContent(out), n);
    m->doc[n] = '\0';
    m->doc_len = n;
    m->changed = 1;
out:
    if (save)
        xmlSaveClose(save);
    if (out)
        xmlBufferFree(out);
    xmlFreeDoc(d);
    if (e) {
        bucketcfg_merge_free(m);
        memset(m, 0, sizeof *m);
    }
    return e;
}

enum sl_err bucketcfg_lifecycle(const char *cur, size_t len, const char *prefix, int force,
                                struct bucketcfg_merge *m)
{
    if (!prefix) {
        memset(m, 0, sizeof *m);
        return SL_EINTERNAL;
    }
    return merge(&lifecycle, cur, len, prefix, force, m);
}

enum sl_err bucketcfg_cors(const char *cur, size_t len, char *const *origins, int force,
                           struct bucketcfg_merge *m)
{
    if (!origins || !origins[0]) {
        memset(m, 0, sizeof *m);
        return SL_ECONFIG;
    }
    return merge(&cors, cur, len, origins, force, m);
}

void bucketcfg_merge_free(struct bucketcfg_merge *m)
{
    for (size_t i = 0; i < m->n_foreign; i++)
        free(m->foreign[i].line);
    free(m->foreign);
    free(m->mine);
    free(m->doc);
    m->foreign = NULL;
    m->n_foreign = 0;
    m->mine = m->doc = NULL;
}
