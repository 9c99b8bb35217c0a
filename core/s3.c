/* The I/O half of the S3 client: libcurl requests, signing with the current time, response
 * parsing, error mapping and retries. */
#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "sigv4.h"
#include "xml.h"

#define URL_MAX (64 * 1024)
#define ERRBODY_MAX (64 * 1024)     /* S3 error documents are small; keep the first 64 KiB */
#define LIST_BODY_MAX (16u << 20)   /* one page of a listing (1000 entries) fits easily */
#define MAX_META 64
#define BACKOFF_CAP_MS 5000
#define LIST_MAX_ENTRIES 1000000    /* a sanity bound on what a listing may return in total */

const char *const s3_op_names[S3_OP_COUNT] = {
    "PutObject", "GetObject", "HeadObject", "DeleteObject",
    "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
    "List", "Other",
};
const double s3_latency_bounds_ms[S3_LATENCY_BUCKETS - 1] = {5, 10, 25, 50, 100, 250, 500,
                                                             1000, 2500, 10000};
static struct s3_op_stats stats[S3_OP_COUNT];   /* updated with atomic adds */

void s3_stats_get(struct s3_op_stats out[S3_OP_COUNT])
{
    for (int i = 0; i < S3_OP_COUNT; i++) {
        out[i].requests = __atomic_load_n(&stats[i].requests, __ATOMIC_RELAXED);
        out[i].errors = __atomic_load_n(&stats[i].errors, __ATOMIC_RELAXED);
        out[i].latency_ms_sum = __atomic_load_n(&stats[i].latency_ms_sum, __ATOMIC_RELAXED);
        for (int b = 0; b < S3_LATENCY_BUCKETS; b++)
            out[i].latency_bucket[b] =
                __atomic_load_n(&stats[i].latency_bucket[b], __ATOMIC_RELAXED);
    }
}

static void record(enum s3_op op, int64_t ms, int failed)
{
    struct s3_op_stats *st = &stats[op];
    __atomic_add_fetch(&st->requests, 1, __ATOMIC_RELAXED);
    if (failed)
        __atomic_add_fetch(&st->errors, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&st->latency_ms_sum, (uint64_t)(ms > 0 ? ms : 0), __ATOMIC_RELAXED);
    for (int b = 0; b < S3_LATENCY_BUCKETS; b++)
        if (b == S3_LATENCY_BUCKETS - 1 || (double)ms <= s3_latency_bounds_ms[b])
            __atomic_add_fetch(&st->latency_bucket[b], 1, __ATOMIC_RELAXED);
}

struct s3_client {
    const struct s3_config *cfg;
    CURL *curl;
    uint64_t requests;
    uint64_t rng;
};

enum sl_err s3_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SL_OK : SL_EINTERNAL;
}

void s3_global_cleanup(void)
{
    curl_global_cleanup();
}

enum sl_err s3_client_new(const struct s3_config *cfg, struct s3_client **out)
{
    *out = NULL;
    struct s3_client *c = calloc(1, sizeof *c);
    if (!c)
        return SL_ENOMEM;
    c->cfg = cfg;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return SL_ENOMEM;
    }
    if (getrandom(&c->rng, sizeof c->rng, 0) != sizeof c->rng || c->rng == 0)
        c->rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid() + 1;
    *out = c;
    return SL_OK;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

const struct s3_config *s3_client_config(const struct s3_client *c)
{
    return c->cfg;
}

uint64_t s3_client_requests(const struct s3_client *c)
{
    return c->requests;
}

void s3_result_free(struct s3_result *r)
{
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].name);
        free(r->meta[i].value);
    }
    free(r->meta);
    r->meta = NULL;
    r->n_meta = 0;
}

static void result_reset(struct s3_result *r)
{
    s3_result_free(r);
    int attempts = r->attempts;
    memset(r, 0, sizeof *r);
    r->attempts = attempts;
}

const char *s3_result_meta(const struct s3_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_meta; i++)
        if (strcasecmp(r->meta[i].name, name) == 0)
            return r->meta[i].value;
    return NULL;
}

/* ---- one logical request ---- */

struct req {
    enum s3_op op;
    const char *method;
    const char *key;              /* NULL: the bucket itself */
    const char *query;            /* wire form, or NULL */
    const struct s3_body *body;   /* NULL: no body */
    const struct s3_kv *headers;  /* further headers, all signed */
    size_t n_headers;
    s3_write_fn sink;             /* 2xx body goes here... */
    void *sink_ud;
    struct buf *resp;             /* ...or here (capped), or is dropped */
    int streams;                  /* the body is streamed: no whole-request timeout */
};

struct xfer {
    struct s3_client *c;
    const struct req *rq;
    struct s3_result *r;
    struct buf errbody;
    uint64_t body_sent;
    uint64_t delivered;
    enum sl_err cb_err;
    /* stall detection for streamed bodies: the last time S3 made progress (bytes acknowledged
     * or received) or our body source handed over data */
    int64_t last_progress_ms;
    curl_off_t last_ul, last_dl;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* S3 stalled: no byte acknowledged or received for stall_timeout while curl had data to move.
 * Time spent waiting in our read callback (a slow client) does not count: on_read resets the
 * clock when it returns, and curl does not call this while the callback blocks. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct xfer *x = ud;
    int64_t now = mono_ms();
    if (ulnow != x->last_ul || dlnow != x->last_dl) {
        x->last_ul = ulnow;
        x->last_dl = dlnow;
        x->last_progress_ms = now;
        return 0;
    }
    if (now - x->last_progress_ms >= x->c->cfg->stall_timeout * 1000) {
        x->cb_err = SL_ES3_TIMEOUT;
        return 1;
    }
    return 0;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    const struct s3_body *b = x->rq->body;
    size_t n = size * nmemb;
    uint64_t left = b->length - x->body_sent;
    if (n > left)
        n = (size_t)left;
    if (n == 0)
        return 0;
    size_t got = 0;
    if (b->mem) {
        memcpy(ptr, (const char *)b->mem + x->body_sent, n);
        got = n;
    } else {
        enum sl_err e = b->read(b->ud, ptr, n, &got);
        if (!e && got == 0)
            e = SL_EUNPROCESSABLE;   /* the source ended before the announced length */
        if (e || got > n) {
            x->cb_err = e ? e : SL_EINTERNAL;
            return CURL_READFUNC_ABORT;
        }
    }
    x->body_sent += got;
    x->last_progress_ms = mono_ms();
    return got;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    const struct s3_body *b = x->rq->body;
    if (origin != SEEK_SET || offset != 0)
        return CURL_SEEKFUNC_CANTSEEK;
    if (!b->mem) {
        if (!b->rewind || b->rewind(b->ud) != SL_OK)
            return CURL_SEEKFUNC_CANTSEEK;
    }
    x->body_sent = 0;
    return CURL_SEEKFUNC_OK;
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    struct s3_result *r = x->r;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect): forget the previous one */
        result_reset(r);
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - ptr);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
#define IS(h) (nl == sizeof(h) - 1 && strncasecmp(ptr, h, nl) == 0)
    if (IS("etag")) {
        copy_field(r->etag, sizeof r->etag, v, vl);
    } else if (IS("content-type")) {
        copy_field(r->content_type, sizeof r->content_type, v, vl);
    } else if (IS("content-length")) {
        char t[32];
        copy_field(t, sizeof t, v, vl);
        r->content_length = strtoull(t, NULL, 10);
    } else if (IS("x-amz-request-id")) {
        copy_field(r->request_id, sizeof r->request_id, v, vl);
    } else if (IS("last-modified")) {
        char t[64];
        copy_field(t, sizeof t, v, vl);
        time_t lm = curl_getdate(t, NULL);
        r->last_modified = lm < 0 ? 0 : lm;
    } else if (IS("date")) {
        char t[64];
        copy_field(t, sizeof t, v, vl);
        time_t d = curl_getdate(t, NULL);
        r->date = d < 0 ? 0 : d;
    } else if (nl > 11 && strncasecmp(ptr, "x-amz-meta-", 11) == 0 && r->n_meta < MAX_META) {
        struct s3_kv *m = realloc(r->meta, (r->n_meta + 1) * sizeof *m);
        if (!m)
            return n;   /* metadata is best effort under memory pressure; the call goes on */
        r->meta = m;
        char *name = strndup(ptr + 11, nl - 11), *val = trimmed_dup(v, vl);
        if (!name || !val) {
            free(name);
            free(val);
            return n;
        }
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        m[r->n_meta].name = name;
        m[r->n_meta].value = val;
        r->n_meta++;
    }
#undef IS
    return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        size_t room = ERRBODY_MAX - x->errbody.len;
        buf_append(&x->errbody, ptr, n < room ? n : room);  /* truncation is fine here */
        return n;
    }
    enum sl_err e = SL_OK;
    if (x->rq->sink)
        e = x->rq->sink(x->rq->sink_ud, ptr, n);
    else if (x->rq->resp)
        e = buf_append(x->rq->resp, ptr, n);
    if (e) {
        x->cb_err = e;
        return CURL_WRITEFUNC_ERROR;
    }
    x->delivered += n;
    return n;
}

enum sl_err s3_write_to_buf(void *ud, const void *p, size_t n)
{
    return buf_append(ud, p, n);
}

static enum sl_err map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return SL_ES3_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return SL_ECONFIG;
    case CURLE_OUT_OF_MEMORY:
        return SL_ENOMEM;
    default:
        return SL_ES3_NET;  /* connect, resolve, reset, send/recv, partial: worth retrying */
    }
}

/* the error class of an S3 answer that is not 2xx (or an error document inside a 200) */
static enum sl_err map_s3(long status, const char *code)
{
    static const char *const retry_codes[] = {
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
        "OperationAborted", NULL,
    };
    static const char *const auth_codes[] = {
        "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "RequestTimeTooSkewed",
        "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed",
        "InvalidSecurity", NULL,
    };
    for (int i = 0; retry_codes[i]; i++)
        if (strcmp(code, retry_codes[i]) == 0)
            return SL_ES3_RETRY;
    for (int i = 0; auth_codes[i]; i++)
        if (strcmp(code, auth_codes[i]) == 0)
            return SL_ES3_AUTH;
    if (status == 401 || status == 403)
        return SL_ES3_AUTH;
    if (status == 404)
        return SL_ES3_NOTFOUND;
    if (status >= 500 && status != 501)
        return SL_ES3_RETRY;
    return SL_ES3_REJECTED;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static enum sl_err add_header(struct curl_slist **l, const char *name, const char *value)
{
    struct buf line = BUF_INIT(16 * 1024);
    /* curl drops "Name:" headers without a value; "Name;" is its way to send an empty one */
    enum sl_err e = *value ? buf_printf(&line, "%s: %s", name, value)
                           : buf_printf(&line, "%s;", name);
    if (!e) {
        struct curl_slist *n = curl_slist_append(*l, line.data);
        if (n)
            *l = n;
        else
            e = SL_ENOMEM;
    }
    buf_free(&line);
    return e;
}

static enum sl_err attempt(struct s3_client *c, const struct req *rq, struct s3_result *r,
                           struct xfer *x)
{
    const struct s3_config *cfg = c->cfg;
    struct buf url = BUF_INIT(URL_MAX), host = BUF_INIT(URL_MAX), path = BUF_INIT(URL_MAX);
    struct curl_slist *hl = NULL;
    struct sigv4_header *sh = NULL;
    struct sigv4_out so;
    sigv4_out_init(&so);
    CURL *cu = c->curl;

    enum sl_err e = s3_url(cfg, rq->key, rq->query, &url, &host, &path);
    if (e)
        goto done;

    char date[17], hash[65];
    s3_amz_date(time(NULL), date);
    const char *payload = SIGV4_EMPTY_SHA256;
    if (rq->body && rq->body->sha256_hex) {
        payload = rq->body->sha256_hex;
    } else if (rq->body && rq->body->mem) {
        sigv4_sha256_hex(rq->body->mem, (size_t)rq->body->length, hash);
        payload = hash;
    } else if (rq->body && rq->body->length > 0) {
        payload = SIGV4_UNSIGNED_PAYLOAD;
    }

    size_t nh = 0, cap = rq->n_headers + 4;
    sh = calloc(cap, sizeof *sh);
    if (!sh) {
        e = SL_ENOMEM;
        goto done;
    }
    sh[nh++] = (struct sigv4_header){"host", buf_str(&host)};
    sh[nh++] = (struct sigv4_header){"x-amz-date", date};
    sh[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    if (cfg->session_token && *cfg->session_token)
        sh[nh++] = (struct sigv4_header){"x-amz-security-token", cfg->session_token};
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (has_ctl(rq->headers[i].value) || has_ctl(rq->headers[i].name)) {
            e = SL_EBADREQ;   /* header injection: never let CR/LF reach the wire */
            goto done;
        }
        sh[nh++] = (struct sigv4_header){rq->headers[i].name, rq->headers[i].value};
    }
    struct sigv4_key k = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token,
                          cfg->region ? cfg->region : "us-east-1", "s3"};
    struct sigv4_request sr = {rq->method, buf_str(&path), rq->query, sh, nh, payload};
    if ((e = sigv4_sign(&k, date, &sr, &so)))
        goto done;

    for (size_t i = 0; i < nh && !e; i++)
        e = add_header(&hl, sh[i].name, sh[i].value);
    if (!e)
        e = add_header(&hl, "Authorization", buf_str(&so.authorization));
    if (e)
        goto done;
    /* no 100-continue round trip; no default Content-Type from curl on POST */
    hl = curl_slist_append(hl, "Expect:");
    int has_ct = 0;
    for (size_t i = 0; i < rq->n_headers; i++)
        has_ct |= strcasecmp(rq->headers[i].name, "content-type") == 0;
    if (!has_ct && hl)
        hl = curl_slist_append(hl, "Content-Type:");
    if (!hl) {
        e = SL_ENOMEM;
        goto done;
    }

    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_PATH_AS_IS, 1L);   /* S3 keys: no dot-segment removal */
    curl_easy_setopt(cu, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout > 0 ? cfg->connect_timeout : 10L);
    if (cfg->stall_timeout > 0 && rq->streams) {
        x->last_progress_ms = mono_ms();
        curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(cu, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
    } else if (cfg->stall_timeout > 0) {
        curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, cfg->stall_timeout);
    }
    if (!rq->streams && cfg->request_timeout > 0)
        curl_easy_setopt(cu, CURLOPT_TIMEOUT, cfg->request_timeout);
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, cfg->verify_tls ? 1L : 0L);
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, cfg->verify_tls ? 2L : 0L);
    if (cfg->ca_file)
        curl_easy_setopt(cu, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, x);

    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (rq->body) {
        curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body->length);
        curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(cu, CURLOPT_READDATA, x);
        curl_easy_setopt(cu, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(cu, CURLOPT_SEEKDATA, x);
        /* UPLOAD means PUT; POST bodies (Complete) keep their method via CUSTOMREQUEST */
    } else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(cu, CURLOPT_READDATA, x);
    }

    c->requests++;
    CURLcode cc = curl_easy_perform(cu);
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &r->status);
    if (x->cb_err) {
        e = x->cb_err;
        snprintf(r->code, sizeof r->code, "callback");
        goto done;
    }
    if (cc != CURLE_OK) {
        e = map_curl(cc);
        snprintf(r->code, sizeof r->code, "curl:%d", (int)cc);
        snprintf(r->message, sizeof r->message, "%s", curl_easy_strerror(cc));
        goto done;
    }
    const struct buf *eb = NULL;
    if (r->status < 200 || r->status > 299)
        eb = &x->errbody;
    else if (rq->resp && strcmp(rq->method, "GET") != 0 && rq->resp->len &&
             memmem(rq->resp->data, rq->resp->len, "<Error>", 7))
        eb = rq->resp;   /* CompleteMultipartUpload may fail inside a 200 */
    if (eb) {
        struct buf t = BUF_INIT(ERRBODY_MAX);
        if (xml_get(eb->data, eb->len, "Code", &t) == SL_OK)
            snprintf(r->code, sizeof r->code, "%s", buf_str(&t));
        if (xml_get(eb->data, eb->len, "Message", &t) == SL_OK)
            snprintf(r->message, sizeof r->message, "%s", buf_str(&t));
        if (!r->request_id[0] && xml_get(eb->data, eb->len, "RequestId", &t) == SL_OK)
            snprintf(r->request_id, sizeof r->request_id, "%s", buf_str(&t));
        buf_free(&t);
        e = map_s3(r->status == 200 ? 500 : r->status, r->code);
    }
done:
    curl_slist_free_all(hl);
    free(sh);
    sigv4_out_free(&so);
    buf_free(&url);
    buf_free(&host);
    buf_free(&path);
    return e;
}

static uint64_t next_rand(struct s3_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static int replayable(const struct req *rq, const struct xfer *x)
{
    if (x->delivered > 0)
        return 0;       /* part of a body already went to the caller's sink */
    if (!rq->body || rq->body->mem)
        return 1;
    return rq->body->rewind && rq->body->rewind(rq->body->ud) == SL_OK;
}

static enum sl_err perform(struct s3_client *c, const struct req *rq, struct s3_result *r)
{
    const struct s3_config *cfg = c->cfg;
    int max_attempts = 1 + (cfg->max_retries > 0 ? cfg->max_retries : 0);
    enum sl_err e = SL_EINTERNAL;
    s3_result_free(r);   /* results are reused across calls: drop the previous metadata */
    memset(r, 0, sizeof *r);
    for (int i = 0; i < max_attempts; i++) {
        struct xfer x = {.c = c, .rq = rq, .r = r};
        buf_init(&x.errbody, ERRBODY_MAX);
        result_reset(r);
        r->attempts = i + 1;
        if (rq->resp)
            buf_reset(rq->resp);
        int64_t t0 = mono_ms();
        e = attempt(c, rq, r, &x);
        record(rq->op, mono_ms() - t0, e != SL_OK);
        buf_free(&x.errbody);
        if (!e || sl_err_class(e) != SL_CLASS_RETRYABLE || i + 1 == max_attempts)
            break;
        if (!replayable(rq, &x))
            break;
        /* full jitter: sleep a random time up to an exponentially growing ceiling */
        long base = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 100;
        long ceil = base << (i < 16 ? i : 16);
        if (ceil > BACKOFF_CAP_MS || ceil <= 0)
            ceil = BACKOFF_CAP_MS;
        usleep((useconds_t)(next_rand(c) % (uint64_t)(ceil + 1)) * 1000u);
    }
    return e;
}

/* ---- operations ---- */

/* the headers a PUT or CreateMultipartUpload sends for its options */
struct hdrs {
    struct s3_kv kv[3 + MAX_META];
    char *owned[MAX_META];
    size_t n, n_owned;
};

static void hdrs_free(struct hdrs *h)
{
    for (size_t i = 0; i < h->n_owned; i++)
        free(h->owned[i]);
    h->n_owned = 0;
}

static enum sl_err put_opts_headers(const struct s3_put_opts *o, struct hdrs *h)
{
    memset(h, 0, sizeof *h);
    const char *ct = o && o->content_type ? o->content_type : "application/octet-stream";
    h->kv[h->n++] = (struct s3_kv){"content-type", (char *)ct};
    if (!o)
        return SL_OK;
    if (o->cache_control)
        h->kv[h->n++] = (struct s3_kv){"cache-control", (char *)o->cache_control};
    if (o->content_disposition)
        h->kv[h->n++] = (struct s3_kv){"content-disposition", (char *)o->content_disposition};
    if (o->n_meta > MAX_META)
        return SL_EBADREQ;
    for (size_t i = 0; i < o->n_meta; i++) {
        char *name;
        if (asprintf(&name, "x-amz-meta-%s", o->meta[i].name) < 0) {
            hdrs_free(h);
            return SL_ENOMEM;
        }
        h->owned[h->n_owned++] = name;
        h->kv[h->n++] = (struct s3_kv){name, o->meta[i].value};
    }
    return SL_OK;
}

enum sl_err s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body,
                          const struct s3_put_opts *o, struct s3_result *r)
{
    struct hdrs h;
    enum sl_err e = put_opts_headers(o, &h);
    if (e)
        return e;
    struct req rq = {.op = S3_OP_PUT, .method = "PUT", .key = key, .body = body, .headers = h.kv,
                     .n_headers = h.n, .streams = body && !body->mem};
    e = perform(c, &rq, r);
    hdrs_free(&h);
    return e;
}

enum sl_err s3_get_object(struct s3_client *c, const char *key, const char *range,
                          s3_write_fn w, void *ud, struct s3_result *r)
{
    struct s3_kv h[1] = {{"range", (char *)range}};
    struct req rq = {.op = S3_OP_GET, .method = "GET", .key = key, .headers = h, .n_headers = range ? 1 : 0,
                     .sink = w, .sink_ud = ud, .streams = 1};
    return perform(c, &rq, r);
}

enum sl_err s3_head_object(struct s3_client *c, const char *key, struct s3_result *r)
{
    struct req rq = {.op = S3_OP_HEAD, .method = "HEAD", .key = key};
    return perform(c, &rq, r);
}

enum sl_err s3_delete_object(struct s3_client *c, const char *key, struct s3_result *r)
{
    struct req rq = {.op = S3_OP_DELETE, .method = "DELETE", .key = key};
    return perform(c, &rq, r);
}

enum sl_err s3_head_bucket(struct s3_client *c, struct s3_result *r)
{
    struct req rq = {.op = S3_OP_HEAD, .method = "HEAD"};
    return perform(c, &rq, r);
}

enum sl_err s3_get_bucket_cors(struct s3_client *c, struct buf *xml, struct s3_result *r)
{
    return s3_bucket_get_xml(c, "cors", xml, r);
}

enum sl_err s3_bucket_get_xml(struct s3_client *c, const char *sub, struct buf *xml,
                              struct s3_result *r)
{
    struct req rq = {.op = S3_OP_OTHER, .method = "GET", .query = sub, .resp = xml};
    return perform(c, &rq, r);
}

enum sl_err s3_bucket_put_xml(struct s3_client *c, const char *sub, const char *xml,
                              struct s3_result *r)
{
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    char b64[32];
    if (!EVP_Digest(xml, strlen(xml), md5, &mlen, EVP_md5(), NULL) || mlen != 16)
        return SL_EINTERNAL;
    EVP_EncodeBlock((unsigned char *)b64, md5, 16);
    struct s3_kv h[2] = {{"content-type", "application/xml"}, {"content-md5", b64}};
    struct s3_body body = {.length = strlen(xml), .mem = xml};
    struct buf resp = BUF_INIT(ERRBODY_MAX);
    struct req rq = {.op = S3_OP_OTHER, .method = "PUT", .query = sub, .body = &body,
                     .headers = h, .n_headers = 2, .resp = &resp};
    enum sl_err e = perform(c, &rq, r);
    buf_free(&resp);
    return e;
}

enum sl_err s3_mpu_create(struct s3_client *c, const char *key, const struct s3_put_opts *o,
                          char **upload_id, struct s3_result *r)
{
    *upload_id = NULL;
    struct hdrs h;
    enum sl_err e = put_opts_headers(o, &h);
    if (e)
        return e;
    struct buf resp = BUF_INIT(ERRBODY_MAX), id = BUF_INIT(4096);
    /* not idempotent in theory (a retry may leave an orphan upload); the janitor aborts
     * orphans, and failing an upload for a transient error is worse */
    struct req rq = {.op = S3_OP_MPU_CREATE, .method = "POST", .key = key, .query = "uploads", .headers = h.kv,
                     .n_headers = h.n, .resp = &resp};
    e = perform(c, &rq, r);
    if (!e && (xml_get(resp.data, resp.len, "UploadId", &id) || id.len == 0))
        e = SL_ES3_REJECTED;
    if (!e)
        *upload_id = id.data;
    else
        buf_free(&id);
    hdrs_free(&h);
    buf_free(&resp);
    return e;
}

static enum sl_err upload_query(struct buf *q, const char *upload_id, int part)
{
    enum sl_err e = SL_OK;
    if (part > 0)
        e = buf_printf(q, "partNumber=%d&", part);
    if (!e)
        e = buf_puts(q, "uploadId=");
    if (!e)
        e = sigv4_uri_encode(q, upload_id, strlen(upload_id), 0);
    return e;
}

enum sl_err s3_mpu_upload_part(struct s3_client *c, const char *key, const char *upload_id,
                               int part_number, const struct s3_body *body,
                               struct s3_result *r)
{
    if (part_number < 1 || part_number > S3_MAX_PARTS)
        return SL_EINTERNAL;
    struct buf q = BUF_INIT(4096);
    enum sl_err e = upload_query(&q, upload_id, part_number);
    if (!e) {
        struct req rq = {.op = S3_OP_MPU_PART, .method = "PUT", .key = key, .query = buf_str(&q), .body = body,
                         .streams = !body->mem};
        e = perform(c, &rq, r);
        if (!e && !r->etag[0])
            e = SL_ES3_REJECTED;
    }
    buf_free(&q);
    return e;
}

enum sl_err s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                            const struct s3_part *parts, size_t n, struct s3_result *r)
{
    struct buf q = BUF_INIT(4096), xml = BUF_INIT(2u << 20), resp = BUF_INIT(ERRBODY_MAX);
    enum sl_err e = upload_query(&q, upload_id, 0);
    if (!e)
        e = buf_puts(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n && !e; i++) {
        e = buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
        if (!e)
            e = xml_escape(&xml, parts[i].etag);
        if (!e)
            e = buf_puts(&xml, "</ETag></Part>");
    }
    if (!e)
        e = buf_puts(&xml, "</CompleteMultipartUpload>");
    if (!e) {
        struct s3_body body = {.length = xml.len, .mem = xml.data};
        struct s3_kv h[1] = {{"content-type", "application/xml"}};
        struct req rq = {.op = S3_OP_MPU_COMPLETE, .method = "POST", .key = key, .query = buf_str(&q), .body = &body,
                         .headers = h, .n_headers = 1, .resp = &resp};
        e = perform(c, &rq, r);
        if (e == SL_ES3_NOTFOUND && r->attempts > 1) {
            /* an earlier attempt may have completed it before the connection broke */
            struct s3_result hr = {0};
            if (s3_head_object(c, key, &hr) == SL_OK)
                e = SL_OK;
            s3_result_free(&hr);
        }
    }
    buf_free(&q);
    buf_free(&xml);
    buf_free(&resp);
    return e;
}

enum sl_err s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
                         struct s3_result *r)
{
    struct buf q = BUF_INIT(4096);
    enum sl_err e = upload_query(&q, upload_id, 0);
    if (!e) {
        struct req rq = {.op = S3_OP_MPU_ABORT, .method = "DELETE", .key = key, .query = buf_str(&q)};
        e = perform(c, &rq, r);
    }
    buf_free(&q);
    return e;
}

static time_t parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return 0;
    return timegm(&tm);
}

/* text of <tag> inside [p, p+n) into t; "" if absent */
static const char *field(const char *p, size_t n, const char *tag, struct buf *t)
{
    if (xml_get(p, n, tag, t) != SL_OK)
        buf_reset(t);
    return buf_str(t);
}

static enum sl_err add_param(struct buf *q, const char *name, const char *value)
{
    enum sl_err e = buf_printf(q, "%s%s=", q->len ? "&" : "", name);
    if (!e)
        e = sigv4_uri_encode(q, value, strlen(value), 0);
    return e;
}

enum sl_err s3_mpu_list_parts(struct s3_client *c, const char *key, const char *upload_id,
                              struct s3_part **parts, size_t *n, struct s3_result *r)
{
    *parts = NULL;
    *n = 0;
    struct buf q = BUF_INIT(4096), resp = BUF_INIT(LIST_BODY_MAX), t = BUF_INIT(4096);
    struct s3_part *v = NULL;
    size_t nv = 0;
    char marker[16] = "0";
    enum sl_err e;
    for (;;) {
        buf_reset(&q);
        e = add_param(&q, "max-parts", "1000");
        if (!e)
            e = add_param(&q, "part-number-marker", marker);
        if (!e)
            e = add_param(&q, "uploadId", upload_id);
        if (e)
            break;
        struct req rq = {.op = S3_OP_LIST, .method = "GET", .key = key, .query = buf_str(&q), .resp = &resp};
        if ((e = perform(c, &rq, r)))
            break;
        size_t pos = 0, il;
        const char *in;
        while (!e && xml_next(resp.data, resp.len, &pos, "Part", &in, &il)) {
            if (nv >= S3_MAX_PARTS) {
                e = SL_ES3_REJECTED;
                break;
            }
            struct s3_part *nvp = realloc(v, (nv + 1) * sizeof *v);
            if (!nvp) {
                e = SL_ENOMEM;
                break;
            }
            v = nvp;
            memset(&v[nv], 0, sizeof v[nv]);
            v[nv].number = atoi(field(in, il, "PartNumber", &t));
            snprintf(v[nv].etag, sizeof v[nv].etag, "%s", field(in, il, "ETag", &t));
            v[nv].size = strtoull(field(in, il, "Size", &t), NULL, 10);
            nv++;
        }
        if (e || strcmp(field(resp.data, resp.len, "IsTruncated", &t), "true") != 0)
            break;
        const char *next = field(resp.data, resp.len, "NextPartNumberMarker", &t);
        if (!*next || strcmp(next, marker) == 0) {
            e = SL_ES3_REJECTED;   /* a truncated page must move forward */
            break;
        }
        snprintf(marker, sizeof marker, "%s", next);
    }
    if (e) {
        free(v);
    } else {
        *parts = v;
        *n = nv;
    }
    buf_free(&q);
    buf_free(&resp);
    buf_free(&t);
    return e;
}

void s3_uploads_free(struct s3_upload *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(u[i].key);
        free(u[i].upload_id);
    }
    free(u);
}

enum sl_err s3_list_multipart_uploads(struct s3_client *c, const char *prefix,
                                      struct s3_upload **out, size_t *n, struct s3_result *r)
{
    *out = NULL;
    *n = 0;
    struct buf q = BUF_INIT(URL_MAX), resp = BUF_INIT(LIST_BODY_MAX), t = BUF_INIT(URL_MAX);
    struct buf km = BUF_INIT(URL_MAX), um = BUF_INIT(URL_MAX);
    struct s3_upload *v = NULL;
    size_t nv = 0;
    enum sl_err e;
    for (;;) {
        buf_reset(&q);
        e = buf_puts(&q, "uploads=");
        if (!e && km.len)
            e = add_param(&q, "key-marker", buf_str(&km));
        if (!e)
            e = add_param(&q, "max-uploads", "1000");
        if (!e && prefix && *prefix)
            e = add_param(&q, "prefix", prefix);
        if (!e && um.len)
            e = add_param(&q, "upload-id-marker", buf_str(&um));
        if (e)
            break;
        struct req rq = {.op = S3_OP_LIST, .method = "GET", .query = buf_str(&q), .resp = &resp};
        if ((e = perform(c, &rq, r)))
            break;
        size_t pos = 0, il;
        const char *in;
        while (!e && xml_next(resp.data, resp.len, &pos, "Upload", &in, &il)) {
            if (nv >= LIST_MAX_ENTRIES) {
                e = SL_ES3_REJECTED;
                break;
            }
            struct s3_upload *nvp = realloc(v, (nv + 1) * sizeof *v);
            if (!nvp) {
                e = SL_ENOMEM;
                break;
            }
            v = nvp;
            v[nv].key = strdup(field(in, il, "Key", &t));
            v[nv].upload_id = strdup(field(in, il, "UploadId", &t));
            v[nv].initiated = parse_iso8601(field(in, il, "Initiated", &t));
            nv++;
            if (!v[nv - 1].key || !v[nv - 1].upload_id)
                e = SL_ENOMEM;
        }
        if (e || strcmp(field(resp.data, resp.len, "IsTruncated", &t), "true") != 0)
            break;
        struct buf nk = BUF_INIT(URL_MAX), nu = BUF_INIT(URL_MAX);
        field(resp.data, resp.len, "NextKeyMarker", &nk);
        field(resp.data, resp.len, "NextUploadIdMarker", &nu);
        int stuck = nk.len == 0 || (strcmp(buf_str(&nk), buf_str(&km)) == 0 &&
                                    strcmp(buf_str(&nu), buf_str(&um)) == 0);
        buf_reset(&km);
        buf_reset(&um);
        e = buf_puts(&km, buf_str(&nk));
        if (!e)
            e = buf_puts(&um, buf_str(&nu));
        buf_free(&nk);
        buf_free(&nu);
        if (!e && stuck)
            e = SL_ES3_REJECTED;
        if (e)
            break;
    }
    if (e) {
        s3_uploads_free(v, nv);
    } else {
        *out = v;
        *n = nv;
    }
    buf_free(&q);
    buf_free(&resp);
    buf_free(&t);
    buf_free(&km);
    buf_free(&um);
    return e;
}

void s3_objects_free(struct s3_object *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(o[i].key);
    free(o);
}

enum sl_err s3_list_objects(struct s3_client *c, const char *prefix, struct s3_object **out,
                            size_t *n, struct s3_result *r)
{
    *out = NULL;
    *n = 0;
    struct buf q = BUF_INIT(URL_MAX), resp = BUF_INIT(LIST_BODY_MAX), t = BUF_INIT(URL_MAX);
    struct buf token = BUF_INIT(URL_MAX);
    struct s3_object *v = NULL;
    size_t nv = 0;
    enum sl_err e;
    for (;;) {
        buf_reset(&q);
        e = SL_OK;
        if (token.len)
            e = add_param(&q, "continuation-token", buf_str(&token));
        if (!e)
            e = add_param(&q, "list-type", "2");
        if (!e && prefix && *prefix)
            e = add_param(&q, "prefix", prefix);
        if (e)
            break;
        struct req rq = {.op = S3_OP_LIST, .method = "GET", .query = buf_str(&q), .resp = &resp};
        if ((e = perform(c, &rq, r)))
            break;
        size_t pos = 0, il;
        const char *in;
        while (!e && xml_next(resp.data, resp.len, &pos, "Contents", &in, &il)) {
            if (nv >= LIST_MAX_ENTRIES) {
                e = SL_ES3_REJECTED;
                break;
            }
            struct s3_object *nvp = realloc(v, (nv + 1) * sizeof *v);
            if (!nvp) {
                e = SL_ENOMEM;
                break;
            }
            v = nvp;
            v[nv].key = strdup(field(in, il, "Key", &t));
            v[nv].size = strtoull(field(in, il, "Size", &t), NULL, 10);
            v[nv].last_modified = parse_iso8601(field(in, il, "LastModified", &t));
            nv++;
            if (!v[nv - 1].key)
                e = SL_ENOMEM;
        }
        if (e || strcmp(field(resp.data, resp.len, "IsTruncated", &t), "true") != 0)
            break;
        field(resp.data, resp.len, "NextContinuationToken", &t);
        if (t.len == 0 || strcmp(buf_str(&t), buf_str(&token)) == 0) {
            e = SL_ES3_REJECTED;
            break;
        }
        buf_reset(&token);
        if ((e = buf_puts(&token, buf_str(&t))))
            break;
    }
    if (e) {
        s3_objects_free(v, nv);
    } else {
        *out = v;
        *n = nv;
    }
    buf_free(&q);
    buf_free(&resp);
    buf_free(&t);
    buf_free(&token);
    return e;
}
