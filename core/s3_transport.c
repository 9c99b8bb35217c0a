/* The transfer half of the S3 client: one attempt over libcurl (URL, signed headers with the
 * current time, callbacks that stream the body and read the answer), the mapping of what came
 * back onto enum sl_err, and retries with backoff. The operations (s3_object.c, s3_mpu.c,
 * s3_list.c, s3_bucket.c) only describe requests. */
#include "s3_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sigv4.h"
#include "xml.h"

#define BACKOFF_CAP_MS 5000
#define HEADER_LINE_MAX (16 * 1024)

/* ---- the client and its results ---- */

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

enum sl_err s3_write_to_buf(void *ud, const void *p, size_t n)
{
    return buf_append(ud, p, n);
}

/* ---- curl callbacks: one attempt's state ---- */

struct xfer {
    struct s3_client *c;
    const struct s3_req *rq;
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

/* installed only for a request with a body */
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
            e = SL_ESHORT_BODY;   /* the source ended before the announced length */
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

/* s[0..n) without the white space at both ends */
static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    trim(&s, &n);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* metadata is best effort under memory pressure: a header that cannot be kept is skipped */
static void keep_meta(struct s3_result *r, const char *name, size_t nl, const char *v, size_t vl)
{
    struct s3_kv *m = realloc(r->meta, (r->n_meta + 1) * sizeof *m);
    if (!m)
        return;
    r->meta = m;
    trim(&v, &vl);
    char *lname = strndup(name, nl), *val = strndup(v, vl);
    if (!lname || !val) {
        free(lname);
        free(val);
        return;
    }
    for (char *p = lname; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    m[r->n_meta].name = lname;
    m[r->n_meta].value = val;
    r->n_meta++;
}

static time_t header_date(const char *v, size_t vl)
{
    char t[64];
    copy_field(t, sizeof t, v, vl);
    time_t d = curl_getdate(t, NULL);
    return d < 0 ? 0 : d;
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
        r->last_modified = header_date(v, vl);
    } else if (IS("date")) {
        r->date = header_date(v, vl);
    } else if (nl > 11 && strncasecmp(ptr, "x-amz-meta-", 11) == 0 && r->n_meta < S3_MAX_META) {
        keep_meta(r, ptr + 11, nl - 11, v, vl);
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
        size_t room = S3_ERRBODY_MAX - x->errbody.len;
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

/* ---- error mapping ---- */

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

/* the S3 error document's Code, Message and RequestId into r; its class */
static enum sl_err map_error_doc(const struct buf *doc, struct s3_result *r)
{
    struct buf t = BUF_INIT(S3_ERRBODY_MAX);
    if (xml_get(doc->data, doc->len, "Code", &t) == SL_OK)
        snprintf(r->code, sizeof r->code, "%s", buf_str(&t));
    if (xml_get(doc->data, doc->len, "Message", &t) == SL_OK)
        snprintf(r->message, sizeof r->message, "%s", buf_str(&t));
    if (!r->request_id[0] && xml_get(doc->data, doc->len, "RequestId", &t) == SL_OK)
        snprintf(r->request_id, sizeof r->request_id, "%s", buf_str(&t));
    buf_free(&t);
    return map_s3(r->status == 200 ? 500 : r->status, r->code);
}

/* ---- one attempt ---- */

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* appends line to *l; on failure *l is left as it was (and still the caller's to free) */
static enum sl_err slist_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return SL_ENOMEM;
    *l = n;
    return SL_OK;
}

static enum sl_err add_header(struct curl_slist **l, const char *name, const char *value)
{
    struct buf line = BUF_INIT(HEADER_LINE_MAX);
    /* curl drops "Name:" headers without a value; "Name;" is its way to send an empty one */
    enum sl_err e = *value ? buf_printf(&line, "%s: %s", name, value)
                           : buf_printf(&line, "%s;", name);
    if (e)
        goto out;
    e = slist_add(l, line.data);
out:
    buf_free(&line);
    return e;
}

/* the payload hash that is signed: given, computed over a body in memory, or unsigned */
static const char *payload_hash(const struct s3_body *b, char hash[65])
{
    if (b && b->sha256_hex)
        return b->sha256_hex;
    if (b && b->mem) {
        sigv4_sha256_hex(b->mem, (size_t)b->length, hash);
        return hash;
    }
    if (b && b->length > 0)
        return SIGV4_UNSIGNED_PAYLOAD;
    return SIGV4_EMPTY_SHA256;
}

/* every header of rq, signed, as curl's list into *hl (the caller frees it, also on failure) */
static enum sl_err signed_headers(const struct s3_config *cfg, const struct s3_req *rq,
                                  const char *host, const char *path, struct curl_slist **hl)
{
    struct sigv4_header *sh = NULL;
    struct sigv4_out so;
    sigv4_out_init(&so);
    char date[17], hash[65];
    const char *payload = payload_hash(rq->body, hash);
    enum sl_err e;
    s3_amz_date(time(NULL), date);

    size_t nh = 0;
    sh = calloc(rq->n_headers + 4, sizeof *sh);
    if (!sh) {
        e = SL_ENOMEM;
        goto out;
    }
    sh[nh++] = (struct sigv4_header){"host", host};
    sh[nh++] = (struct sigv4_header){"x-amz-date", date};
    sh[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    if (cfg->session_token && *cfg->session_token)
        sh[nh++] = (struct sigv4_header){"x-amz-security-token", cfg->session_token};
    int has_ct = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (has_ctl(rq->headers[i].value) || has_ctl(rq->headers[i].name)) {
            e = SL_EHEADER_VALUE;   /* header injection: never let CR/LF reach the wire */
            goto out;
        }
        sh[nh++] = (struct sigv4_header){rq->headers[i].name, rq->headers[i].value};
        has_ct |= strcasecmp(rq->headers[i].name, "content-type") == 0;
    }
    struct sigv4_key k = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token,
                          cfg->region ? cfg->region : "us-east-1", "s3"};
    struct sigv4_request sr = {rq->method, path, rq->query, sh, nh, payload};
    if ((e = sigv4_sign(&k, date, &sr, &so)))
        goto out;

    for (size_t i = 0; i < nh; i++)
        if ((e = add_header(hl, sh[i].name, sh[i].value)))
            goto out;
    if ((e = add_header(hl, "Authorization", buf_str(&so.authorization))))
        goto out;
    /* no 100-continue round trip; no default Content-Type from curl on POST */
    if ((e = slist_add(hl, "Expect:")))
        goto out;
    if (!has_ct && (e = slist_add(hl, "Content-Type:")))
        goto out;
out:
    free(sh);
    sigv4_out_free(&so);
    return e;
}

static void set_options(struct s3_client *c, const struct s3_req *rq, struct xfer *x,
                        const char *url, struct curl_slist *hl)
{
    const struct s3_config *cfg = c->cfg;
    CURL *cu = c->curl;
    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_PATH_AS_IS, 1L);   /* S3 keys: no dot-segment removal */
    curl_easy_setopt(cu, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT,
                     cfg->connect_timeout > 0 ? cfg->connect_timeout : 10L);
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

    if (strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    else if (strcmp(rq->method, "GET") != 0)
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body) {
        /* UPLOAD means PUT; POST bodies (Complete) keep their method via CUSTOMREQUEST */
        curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body->length);
        curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(cu, CURLOPT_READDATA, x);
        curl_easy_setopt(cu, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(cu, CURLOPT_SEEKDATA, x);
    } else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
        /* no body (CreateMultipartUpload): "Content-Length: 0" from an empty in-memory body,
         * so no read callback is ever asked for bytes there are none of */
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
}

/* what a finished transfer means: the callbacks' error, curl's, or S3's answer */
static enum sl_err outcome(const struct s3_req *rq, struct s3_result *r, struct xfer *x,
                           CURLcode cc)
{
    if (x->cb_err) {
        snprintf(r->code, sizeof r->code, "callback");
        return x->cb_err;
    }
    if (cc != CURLE_OK) {
        snprintf(r->code, sizeof r->code, "curl:%d", (int)cc);
        snprintf(r->message, sizeof r->message, "%s", curl_easy_strerror(cc));
        return map_curl(cc);
    }
    if (r->status < 200 || r->status > 299)
        return map_error_doc(&x->errbody, r);
    if (rq->resp && strcmp(rq->method, "GET") != 0 && rq->resp->len &&
        memmem(rq->resp->data, rq->resp->len, "<Error>", 7))
        return map_error_doc(rq->resp, r);   /* CompleteMultipartUpload may fail inside a 200 */
    return SL_OK;
}

static enum sl_err attempt(struct s3_client *c, const struct s3_req *rq, struct s3_result *r,
                           struct xfer *x)
{
    struct buf url = BUF_INIT(S3_URL_MAX), host = BUF_INIT(S3_URL_MAX);
    struct buf path = BUF_INIT(S3_URL_MAX);
    struct curl_slist *hl = NULL;
    enum sl_err e;
    if ((e = s3_url(c->cfg, rq->key, rq->query, &url, &host, &path)))
        goto out;
    if ((e = signed_headers(c->cfg, rq, buf_str(&host), buf_str(&path), &hl)))
        goto out;
    set_options(c, rq, x, buf_str(&url), hl);
    c->requests++;
    CURLcode cc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
    e = outcome(rq, r, x, cc);
out:
    curl_slist_free_all(hl);
    buf_free(&url);
    buf_free(&host);
    buf_free(&path);
    return e;
}

/* ---- retries ---- */

static uint64_t next_rand(struct s3_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static int replayable(const struct s3_req *rq, const struct xfer *x)
{
    if (x->delivered > 0)
        return 0;       /* part of a body already went to the caller's sink */
    if (!rq->body || rq->body->mem)
        return 1;
    return rq->body->rewind && rq->body->rewind(rq->body->ud) == SL_OK;
}

enum sl_err s3_perform(struct s3_client *c, const struct s3_req *rq, struct s3_result *r)
{
    const struct s3_config *cfg = c->cfg;
    int max_attempts = 1 + (cfg->max_retries > 0 ? cfg->max_retries : 0);
    enum sl_err e = SL_EINTERNAL;
    s3_result_free(r);   /* results are reused across calls: drop the previous metadata */
    memset(r, 0, sizeof *r);
    for (int i = 0; i < max_attempts; i++) {
        struct xfer x = {.c = c, .rq = rq, .r = r};
        buf_init(&x.errbody, S3_ERRBODY_MAX);
        result_reset(r);
        r->attempts = i + 1;
        if (rq->resp)
            buf_reset(rq->resp);
        int64_t t0 = mono_ms();
        e = attempt(c, rq, r, &x);
        s3_stats_note(rq->op, mono_ms() - t0, e != SL_OK);
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
