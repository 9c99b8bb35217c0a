/* The pure half of the S3 client: endpoints, URLs, presigned URLs and POST policies.
 * No I/O and no clock: the time is passed in. */
#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json.h"
#include "sigv4.h"

#define URL_MAX (64 * 1024)

enum sl_err s3_parse_endpoint(const char *url, struct s3_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    if (!url)
        return SL_ECONFIG;
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        strcpy(ep->scheme, "http");
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        strcpy(ep->scheme, "https");
        p = url + 8;
    } else {
        return SL_ECONFIG;
    }
    size_t hl;
    const char *after;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (!rb)
            return SL_ECONFIG;
        hl = (size_t)(rb - p - 1);
        p++;
        after = rb + 1;
        ep->ipv6 = 1;
    } else {
        hl = strcspn(p, ":/?#@");
        after = p + hl;
    }
    if (hl == 0 || hl >= sizeof ep->host)
        return SL_ECONFIG;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!(isalnum(c) || c == '-' || c == '.' || (ep->ipv6 && c == ':')))
            return SL_ECONFIG;
        ep->host[i] = (char)tolower(c);
    }
    ep->host[hl] = '\0';
    int def = strcmp(ep->scheme, "https") == 0 ? 443 : 80;
    ep->port = def;
    if (*after == ':') {
        char *end;
        long port = strtol(after + 1, &end, 10);
        if (end == after + 1 || port < 1 || port > 65535)
            return SL_ECONFIG;
        ep->port = (int)port;
        after = end;
    }
    if (*after == '/')
        after++;
    if (*after)   /* no path, query or userinfo: an endpoint is a scheme, a host and a port */
        return SL_ECONFIG;
    ep->default_port = ep->port == def;
    return SL_OK;
}

static enum sl_err endpoint_of(const struct s3_config *cfg, struct s3_endpoint *ep)
{
    if (cfg->endpoint && *cfg->endpoint)
        return s3_parse_endpoint(cfg->endpoint, ep);
    char aws[300];
    snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", cfg->region ? cfg->region : "");
    return s3_parse_endpoint(aws, ep);
}

/* "host", "host:port", "[v6]:port"; with the bucket in front when virtual-hosted */
static enum sl_err host_header(const struct s3_config *cfg, const struct s3_endpoint *ep,
                               struct buf *host)
{
    buf_reset(host);
    enum sl_err e;
    if (!cfg->path_style && (e = buf_printf(host, "%s.", cfg->bucket)))
        return e;
    if ((e = buf_printf(host, ep->ipv6 ? "[%s]" : "%s", ep->host)))
        return e;
    return ep->default_port ? SL_OK : buf_printf(host, ":%d", ep->port);
}

enum sl_err s3_url(const struct s3_config *cfg, const char *key, const char *query,
                   struct buf *url, struct buf *host, struct buf *path)
{
    struct s3_endpoint ep;
    enum sl_err e = endpoint_of(cfg, &ep);
    if (e)
        return e;
    if (!cfg->bucket || !*cfg->bucket || strpbrk(cfg->bucket, "/ ?#"))
        return SL_ECONFIG;
    if ((e = host_header(cfg, &ep, host)))
        return e;
    buf_reset(path);
    buf_reset(url);
    if ((e = buf_putc(path, '/')))
        return e;
    if (cfg->path_style) {
        if ((e = sigv4_uri_encode(path, cfg->bucket, strlen(cfg->bucket), 0)))
            return e;
        if (key && (e = buf_putc(path, '/')))
            return e;
    }
    if (key && (e = sigv4_uri_encode(path, key, strlen(key), 1)))
        return e;
    if ((e = buf_printf(url, "%s://%s%s", ep.scheme, buf_str(host), buf_str(path))))
        return e;
    return query && *query ? buf_printf(url, "?%s", query) : SL_OK;
}

void s3_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void sigv4_key_of(const struct s3_config *cfg, struct sigv4_key *k)
{
    k->access_key_id = cfg->access_key_id;
    k->secret_access_key = cfg->secret_access_key;
    k->session_token = cfg->session_token;
    k->region = cfg->region ? cfg->region : "us-east-1";
    k->service = "s3";
}

enum sl_err s3_presign(const struct s3_config *cfg, const char *method, const char *key,
                       const char *extra_query, const struct s3_kv *headers, size_t n_headers,
                       long expires, time_t now, struct buf *url)
{
    struct buf host = BUF_INIT(URL_MAX), path = BUF_INIT(URL_MAX), q = BUF_INIT(URL_MAX);
    struct sigv4_header *h = NULL;
    struct sigv4_out sig;
    sigv4_out_init(&sig);
    struct sigv4_key k;
    sigv4_key_of(cfg, &k);
    char date[17];
    s3_amz_date(now, date);
    enum sl_err e;
    if ((e = s3_url(cfg, key, NULL, url, &host, &path)))
        goto out;
    if (n_headers && !(h = calloc(n_headers, sizeof *h))) {
        e = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_headers; i++) {
        h[i].name = headers[i].name;
        h[i].value = headers[i].value;
    }
    struct sigv4_presign p = {method, buf_str(&host), buf_str(&path), extra_query,
                              h, n_headers, expires};
    if ((e = sigv4_presign(&k, date, &p, &sig, &q)))
        goto out;
    e = buf_printf(url, "?%s", buf_str(&q));
out:
    free(h);
    sigv4_out_free(&sig);
    buf_free(&host);
    buf_free(&path);
    buf_free(&q);
    return e;
}

static enum sl_err add_field(struct s3_post_form *f, const char *name, const char *value)
{
    if (f->n_fields >= sizeof f->fields / sizeof f->fields[0])
        return SL_EINTERNAL;
    struct s3_kv *kv = &f->fields[f->n_fields];
    kv->name = strdup(name);
    kv->value = strdup(value);
    if (!kv->name || !kv->value) {
        free(kv->name);
        free(kv->value);
        return SL_ENOMEM;
    }
    f->n_fields++;
    return SL_OK;
}

/* before, s as a JSON string, then after */
static enum sl_err put_json(struct buf *b, const char *before, const char *s, const char *after)
{
    enum sl_err e;
    if ((e = buf_puts(b, before)))
        return e;
    if ((e = json_str(b, s)))
        return e;
    return buf_puts(b, after);
}

/* {"name":"value"} condition, and the matching form field */
static enum sl_err exact(struct buf *pol, struct s3_post_form *f, const char *name,
                         const char *value)
{
    enum sl_err e;
    if ((e = put_json(pol, ",{", name, ":")))
        return e;
    if ((e = put_json(pol, "", value, "}")))
        return e;
    return add_field(f, name, value);
}

enum sl_err s3_post_policy(const struct s3_config *cfg, const struct s3_post_opts *o, time_t now,
                           struct s3_post_form *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->url, URL_MAX);
    if (!o->key || !*o->key || o->expires < 1 || o->expires > SIGV4_MAX_EXPIRES)
        return SL_EBADREQ;
    struct buf host = BUF_INIT(URL_MAX), path = BUF_INIT(URL_MAX);
    struct buf pol = BUF_INIT(URL_MAX), keyf = BUF_INIT(URL_MAX);
    char *b64 = NULL;
    struct sigv4_key k;
    sigv4_key_of(cfg, &k);
    char date[17], expiry[32], cred[512], sig[65];
    s3_amz_date(now, date);
    time_t exp_t = now + o->expires;
    struct tm tm;
    gmtime_r(&exp_t, &tm);
    strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    snprintf(cred, sizeof cred, "%s/%.8s/%s/s3/aws4_request", k.access_key_id ? k.access_key_id : "",
             date, k.region);

    char date8[9], st[8];
    memcpy(date8, date, 8);
    date8[8] = '\0';
    snprintf(st, sizeof st, "%d", o->success_status);

    enum sl_err e;
    if ((e = s3_url(cfg, NULL, NULL, &out->url, &host, &path)))
        goto out;
    if ((e = buf_printf(&pol, "{\"expiration\":\"%s\",\"conditions\":[", expiry)))
        goto out;
    if ((e = put_json(&pol, "{\"bucket\":", cfg->bucket, "}")))
        goto out;
    if (o->starts_with) {
        if ((e = put_json(&pol, ",[\"starts-with\",\"$key\",", o->key, "]")))
            goto out;
        if ((e = buf_printf(&keyf, "%s${filename}", o->key)))
            goto out;
        if ((e = add_field(out, "key", buf_str(&keyf))))
            goto out;
    } else if ((e = exact(&pol, out, "key", o->key))) {
        goto out;
    }
    if (o->max_size && (e = buf_printf(&pol, ",[\"content-length-range\",%llu,%llu]",
                                       (unsigned long long)o->min_size,
                                       (unsigned long long)o->max_size)))
        goto out;
    if (o->content_type && (e = exact(&pol, out, "Content-Type", o->content_type)))
        goto out;
    if (o->success_status && (e = exact(&pol, out, "success_action_status", st)))
        goto out;
    if (o->acl && (e = exact(&pol, out, "acl", o->acl)))
        goto out;
    if (o->content_disposition &&
        (e = exact(&pol, out, "Content-Disposition", o->content_disposition)))
        goto out;
    if ((e = exact(&pol, out, "x-amz-credential", cred)))
        goto out;
    if ((e = exact(&pol, out, "x-amz-algorithm", SIGV4_ALGORITHM)))
        goto out;
    if ((e = exact(&pol, out, "x-amz-date", date)))
        goto out;
    if (k.session_token && *k.session_token &&
        (e = exact(&pol, out, "x-amz-security-token", k.session_token)))
        goto out;
    if ((e = buf_puts(&pol, "]}")))
        goto out;
    if (!(b64 = malloc(4 * ((pol.len + 2) / 3) + 1))) {
        e = SL_ENOMEM;
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pol.data, (int)pol.len);
    if ((e = add_field(out, "policy", b64)))
        goto out;
    if ((e = sigv4_post_signature(&k, date8, b64, sig)))
        goto out;
    e = add_field(out, "x-amz-signature", sig);
out:
    free(b64);
    buf_free(&host);
    buf_free(&path);
    buf_free(&pol);
    buf_free(&keyf);
    if (e)
        s3_post_form_free(out);
    return e;
}

void s3_post_form_free(struct s3_post_form *f)
{
    for (size_t i = 0; i < f->n_fields; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    f->n_fields = 0;
    buf_free(&f->url);
}
