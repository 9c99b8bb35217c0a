#include "sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* canonical requests hold headers and queries we built or were given; far below this */
#define CREQ_MAX (256 * 1024)

void sigv4_out_init(struct sigv4_out *o)
{
    buf_init(&o->creq, CREQ_MAX);
    buf_init(&o->sts, CREQ_MAX);
    buf_init(&o->signed_headers, CREQ_MAX);
    buf_init(&o->authorization, CREQ_MAX);
    o->signature[0] = '\0';
}

void sigv4_out_free(struct sigv4_out *o)
{
    buf_free(&o->creq);
    buf_free(&o->sts);
    buf_free(&o->signed_headers);
    buf_free(&o->authorization);
}

void sigv4_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, n, md);
    sigv4_hex(md, sizeof md, out);
}

static void hmac(const void *key, size_t klen, const void *data, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len);
}

int sigv4_valid_amz_date(const char *s)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int valid_scope_part(const char *s)
{
    return s && *s && !strchr(s, '/') && !strpbrk(s, " \r\n");
}

enum sl_err sigv4_signing_key(const struct sigv4_key *k, const char *date8, unsigned char out[32])
{
    if (!k->secret_access_key || !valid_scope_part(k->region) || !valid_scope_part(k->service))
        return SL_ECONFIG;
    size_t slen = strlen(k->secret_access_key);
    char *kk = malloc(slen + 5);
    if (!kk)
        return SL_ENOMEM;
    memcpy(kk, "AWS4", 4);
    memcpy(kk + 4, k->secret_access_key, slen + 1);
    unsigned char a[32], b[32];
    hmac(kk, slen + 4, date8, 8, a);
    OPENSSL_cleanse(kk, slen + 4);
    free(kk);
    hmac(a, 32, k->region, strlen(k->region), b);
    hmac(b, 32, k->service, strlen(k->service), a);
    hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    return SL_OK;
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

enum sl_err sigv4_uri_encode(struct buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hexu[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        enum sl_err e;
        if (unreserved(c) || (keep_slash && c == '/')) {
            e = buf_putc(out, (char)c);
        } else {
            char t[3] = {'%', hexu[c >> 4], hexu[c & 15]};
            e = buf_append(out, t, 3);
        }
        if (e)
            return e;
    }
    return SL_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* percent-decode s[0..n) into out; a '%' not followed by two hex digits is an error */
static enum sl_err uri_decode(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int h, l;
            if (n - i < 3 || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
                return SL_EBADREQ;
            c = (char)(h * 16 + l);
            i += 2;
        }
        enum sl_err e = buf_putc(out, c);
        if (e)
            return e;
    }
    return SL_OK;
}

enum sl_err sigv4_canonical_path(struct buf *out, const char *path)
{
    if (!path || !*path)
        return buf_putc(out, '/');
    struct buf raw = BUF_INIT(CREQ_MAX);
    enum sl_err e;
    if ((e = uri_decode(&raw, path, strlen(path))))
        goto out;
    if (raw.data[0] != '/' && (e = buf_putc(out, '/')))
        goto out;
    e = sigv4_uri_encode(out, raw.data, raw.len, 1);
out:
    buf_free(&raw);
    return e;
}

struct qpair {
    char *name;   /* encoded */
    char *value;  /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* decode then encode s[0..n) into a fresh string */
static enum sl_err reencode(const char *s, size_t n, char **res)
{
    struct buf raw = BUF_INIT(CREQ_MAX), enc = BUF_INIT(CREQ_MAX);
    enum sl_err e;
    if ((e = uri_decode(&raw, s, n)))
        goto out;
    if ((e = sigv4_uri_encode(&enc, buf_str(&raw), raw.len, 0)))
        goto out;
    if (!enc.data && (e = buf_puts(&enc, "")))
        goto out;
    *res = enc.data;   /* the string is the caller's now */
    enc.data = NULL;
out:
    buf_free(&raw);
    buf_free(&enc);
    return e;
}

enum sl_err sigv4_canonical_query(struct buf *out, const char *query)
{
    if (!query || !*query)
        return SL_OK;
    size_t cap = 1;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    struct qpair *v = calloc(cap, sizeof *v);
    if (!v)
        return SL_ENOMEM;
    size_t n = 0;
    enum sl_err e = SL_OK;
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *nend = eq ? eq : end;
            struct qpair *q = &v[n++];   /* counted now: freed below even if half filled */
            if ((e = reencode(p, (size_t)(nend - p), &q->name)))
                goto out;
            if ((e = reencode(eq ? eq + 1 : end, eq ? (size_t)(end - eq - 1) : 0, &q->value)))
                goto out;
        }
        p = *end ? end + 1 : end;
    }
    qsort(v, n, sizeof *v, qpair_cmp);
    for (size_t i = 0; i < n; i++)
        if ((e = buf_printf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value)))
            goto out;
out:
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
    return e;
}

struct chdr {
    char *name;         /* lower-cased */
    char *value;        /* trimmed, whitespace runs collapsed */
    size_t order;       /* position as given, so sorting keeps repeated names in send order */
};

static int chdr_cmp(const void *a, const void *b)
{
    const struct chdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int valid_header_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || c == ':')
            return 0;
    }
    return 1;
}

static char *canonical_value(const char *s)
{
    char *r = malloc(strlen(s) + 1), *w = r;
    if (!r)
        return NULL;
    int pending_space = 0;
    while (is_ws(*s))
        s++;
    for (; *s; s++) {
        if (is_ws(*s)) {
            pending_space = 1;
            continue;
        }
        if (pending_space)
            *w++ = ' ';
        pending_space = 0;
        *w++ = *s;
    }
    *w = '\0';
    return r;
}

/* canonical header lines into creq, names into signed_headers */
static enum sl_err canonical_headers(const struct sigv4_header *h, size_t n, struct buf *creq,
                                     struct buf *signed_headers)
{
    if (n == 0)
        return SL_EBADREQ;
    struct chdr *v = calloc(n, sizeof *v);
    if (!v)
        return SL_ENOMEM;
    enum sl_err e;
    for (size_t i = 0; i < n; i++) {
        if (!valid_header_name(h[i].name) || !h[i].value) {
            e = SL_EBADREQ;
            goto out;
        }
        v[i].name = strdup(h[i].name);
        v[i].value = canonical_value(h[i].value);
        v[i].order = i;
        if (!v[i].name || !v[i].value) {
            e = SL_ENOMEM;
            goto out;
        }
        for (char *c = v[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    qsort(v, n, sizeof *v, chdr_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(v[i].name, v[i - 1].name) == 0) {   /* repeated: values join */
            if ((e = buf_printf(creq, ",%s", v[i].value)))
                goto out;
            continue;
        }
        if ((e = buf_printf(creq, "%s%s:%s", i ? "\n" : "", v[i].name, v[i].value)))
            goto out;
        if ((e = buf_printf(signed_headers, "%s%s", i ? ";" : "", v[i].name)))
            goto out;
    }
    e = buf_putc(creq, '\n');
out:
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
    return e;
}

/* canonical request, string to sign and signature from already-canonical query */
static enum sl_err sign_canonical(const struct sigv4_key *k, const char *amz_date,
                                  const char *method, const char *path, const char *cquery,
                                  const struct sigv4_header *h, size_t nh,
                                  const char *payload_hash, struct sigv4_out *out)
{
    if (!sigv4_valid_amz_date(amz_date) || !method || !*method || !payload_hash)
        return SL_EBADREQ;
    if (!k->access_key_id || !*k->access_key_id || strchr(k->access_key_id, '/'))
        return SL_ECONFIG;
    buf_reset(&out->creq);
    buf_reset(&out->sts);
    buf_reset(&out->signed_headers);
    enum sl_err e;
    if ((e = buf_printf(&out->creq, "%s\n", method)))
        return e;
    if ((e = sigv4_canonical_path(&out->creq, path)))
        return e;
    if ((e = buf_printf(&out->creq, "\n%s\n", cquery)))
        return e;
    if ((e = canonical_headers(h, nh, &out->creq, &out->signed_headers)))
        return e;
    if ((e = buf_printf(&out->creq, "\n%s\n%s", buf_str(&out->signed_headers), payload_hash)))
        return e;

    char date8[9], creq_hash[65];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    sigv4_sha256_hex(out->creq.data, out->creq.len, creq_hash);
    e = buf_printf(&out->sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
                   k->region, k->service, creq_hash);
    if (e)
        return e;

    unsigned char key[32], sig[32];
    e = sigv4_signing_key(k, date8, key);
    if (e)
        return e;
    hmac(key, sizeof key, out->sts.data, out->sts.len, sig);
    OPENSSL_cleanse(key, sizeof key);
    sigv4_hex(sig, sizeof sig, out->signature);
    return SL_OK;
}

enum sl_err sigv4_sign(const struct sigv4_key *k, const char *amz_date,
                       const struct sigv4_request *r, struct sigv4_out *out)
{
    struct buf cq = BUF_INIT(CREQ_MAX);
    enum sl_err e;
    if ((e = sigv4_canonical_query(&cq, r->query)))
        goto out;
    if ((e = sign_canonical(k, amz_date, r->method, r->path, buf_str(&cq), r->headers,
                            r->n_headers, r->payload_hash, out)))
        goto out;
    buf_reset(&out->authorization);
    e = buf_printf(&out->authorization,
                   SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
                   "SignedHeaders=%s, Signature=%s",
                   k->access_key_id, amz_date, k->region, k->service,
                   buf_str(&out->signed_headers), out->signature);
out:
    buf_free(&cq);
    return e;
}

static enum sl_err put_param(struct buf *q, const char *name, const char *value)
{
    enum sl_err e;
    if ((e = buf_printf(q, "%s%s=", q->len ? "&" : "", name)))
        return e;
    return sigv4_uri_encode(q, value, strlen(value), 0);
}

enum sl_err sigv4_presign(const struct sigv4_key *k, const char *amz_date,
                          const struct sigv4_presign *p, struct sigv4_out *out,
                          struct buf *query_out)
{
    if (p->expires < 1 || p->expires > SIGV4_MAX_EXPIRES || !p->host || !*p->host)
        return SL_EBADREQ;
    if (!sigv4_valid_amz_date(amz_date))
        return SL_EBADREQ;
    size_t nh = p->n_headers + 1;
    struct sigv4_header *h = calloc(nh, sizeof *h);
    if (!h)
        return SL_ENOMEM;
    struct buf raw = BUF_INIT(CREQ_MAX), cq = BUF_INIT(CREQ_MAX), sh = BUF_INIT(CREQ_MAX);
    struct buf scratch = BUF_INIT(CREQ_MAX);
    h[0].name = "host";
    h[0].value = p->host;
    for (size_t i = 0; i < p->n_headers; i++)
        h[i + 1] = p->headers[i];

    /* SignedHeaders needs the sorted, lower-cased names: let the canonicaliser make them */
    char cred[512], expires[24];
    enum sl_err e;
    if ((e = canonical_headers(h, nh, &scratch, &sh)))
        goto out;
    if ((size_t)snprintf(cred, sizeof cred, "%s/%.8s/%s/%s/aws4_request", k->access_key_id,
                         amz_date, k->region, k->service) >= sizeof cred) {
        e = SL_ECONFIG;
        goto out;
    }
    snprintf(expires, sizeof expires, "%ld", p->expires);
    const char *token = k->session_token && *k->session_token ? k->session_token : NULL;
    const char *const params[][2] = {   /* in this order; a NULL value is left out */
        {"X-Amz-Algorithm", SIGV4_ALGORITHM}, {"X-Amz-Credential", cred},
        {"X-Amz-Date", amz_date},             {"X-Amz-Expires", expires},
        {"X-Amz-Security-Token", token},      {"X-Amz-SignedHeaders", buf_str(&sh)},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (params[i][1] && (e = put_param(&raw, params[i][0], params[i][1])))
            goto out;
    if (p->extra_query && *p->extra_query && (e = buf_printf(&raw, "&%s", p->extra_query)))
        goto out;
    if ((e = sigv4_canonical_query(&cq, buf_str(&raw))))
        goto out;
    if ((e = sign_canonical(k, amz_date, p->method, p->path, buf_str(&cq), h, nh,
                            SIGV4_UNSIGNED_PAYLOAD, out)))
        goto out;
    buf_reset(query_out);
    e = buf_printf(query_out, "%s&X-Amz-Signature=%s", buf_str(&cq), out->signature);
out:
    buf_free(&raw);
    buf_free(&cq);
    buf_free(&sh);
    buf_free(&scratch);
    free(h);
    return e;
}

enum sl_err sigv4_post_signature(const struct sigv4_key *k, const char *date8,
                                 const char *policy_b64, char sig[65])
{
    if (!date8 || strlen(date8) != 8 || !policy_b64)
        return SL_EBADREQ;
    unsigned char key[32], mac[32];
    enum sl_err e = sigv4_signing_key(k, date8, key);
    if (e)
        return e;
    hmac(key, sizeof key, policy_b64, strlen(policy_b64), mac);
    OPENSSL_cleanse(key, sizeof key);
    sigv4_hex(mac, sizeof mac, sig);
    return SL_OK;
}

enum sl_err sigv4_chunk_signature(const unsigned char signing_key[32], const char *amz_date,
                                  const char *scope, const char *prev_sig, const void *data,
                                  size_t n, char sig[65])
{
    char chunk_hash[65];
    sigv4_sha256_hex(data, n, chunk_hash);
    struct buf sts = BUF_INIT(CREQ_MAX);
    unsigned char mac[32];
    enum sl_err e;
    if ((e = buf_printf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", amz_date, scope,
                        prev_sig, SIGV4_EMPTY_SHA256, chunk_hash)))
        goto out;
    hmac(signing_key, 32, sts.data, sts.len, mac);
    sigv4_hex(mac, sizeof mac, sig);
out:
    buf_free(&sts);
    return e;
}
