#include "drop.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "sigv4.h"
#include "utf8.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static enum sl_err random_b64url(size_t nbytes, char *out)
{
    unsigned char raw[32];
    if (nbytes > sizeof raw || getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        return SL_EINTERNAL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < nbytes; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            out[o++] = b64url[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return SL_OK;
}

enum sl_err drop_new_id(char id[DROP_ID_LEN + 1])
{
    return random_b64url(16, id);
}

enum sl_err drop_new_token(char tok[DROP_TOKEN_LEN + 1])
{
    return random_b64url(32, tok);
}

int drop_valid_id(const char *s)
{
    if (!s || strlen(s) != DROP_ID_LEN)
        return 0;
    for (; *s; s++)
        if (!strchr(b64url, *s))
            return 0;
    return 1;
}

void drop_token_hash(const char *token, char hex[65])
{
    sigv4_sha256_hex(token, strlen(token), hex);
}

int drop_token_matches(const char *token, const char *hash_hex)
{
    if (!token || !hash_hex || strlen(hash_hex) != 64)
        return 0;
    char h[65];
    drop_token_hash(token, h);
    return CRYPTO_memcmp(h, hash_hex, 64) == 0;
}

enum sl_err drop_key(struct buf *out, const char *prefix, const char *kind, const char *id)
{
    buf_reset(out);
    return buf_printf(out, "%s%s/%s", prefix ? prefix : "", kind, id);
}

/* a code point that must not reach a name someone else reads: C1 controls, the bidi
 * controls that make "evil\u202Etxt.exe" look like "evilexe.txt", line and paragraph
 * separators, the byte-order mark */
static int invisible(const unsigned char *p, size_t l)
{
    unsigned cp = l == 2 ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
                  : l == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu) : 0;
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

void drop_sanitize_name(const char *in, size_t n, char out[DROP_NAME_MAX + 1])
{
    /* last path component: browsers and tools send "C:\\x\\y.txt" or "a/b/c" */
    const char *start = in;
    for (size_t i = 0; i < n; i++)
        if (in[i] == '/' || in[i] == '\\')
            start = in + i + 1;
    n -= (size_t)(start - in);
    const unsigned char *p = (const unsigned char *)start;
    size_t o = 0, i = 0;
    while (i < n && o < DROP_NAME_MAX) {
        size_t l = utf8_seq_len(p + i, n - i);
        if (l == 0) {
            out[o++] = '_';
            i++;
            continue;
        }
        if ((l == 1 && (p[i] < 0x20 || p[i] == 0x7f)) || invisible(p + i, l)) {
            i += l;                 /* control characters (CR, LF, NUL, C1, bidi) are dropped */
            continue;
        }
        if (o + l > DROP_NAME_MAX)
            break;                  /* never cut a character in half */
        if (o == 0 && l == 1 && (p[i] == '.' || p[i] == ' ')) {
            i++;                    /* no hidden files, no "..", no leading blanks */
            continue;
        }
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '.'))
        o--;                        /* Windows strips these anyway */
    if (o == 0) {
        strcpy(out, "file");
        return;
    }
    out[o] = '\0';
}

static int tchar(int c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

static void guess_type(const char *ct, const char *name, char out[128])
{
    if (ct) {
        size_t i = 0, slash = 0, o = 0;
        while (ct[i] == ' ')
            i++;
        size_t st = i;
        for (; ct[i] && ct[i] != ';' && ct[i] != ' '; i++) {
            if (ct[i] == '/' && !slash)
                slash = i;
            else if (!tchar((unsigned char)ct[i]))
                break;
        }
        size_t end = i;
        while (ct[i] == ' ')
            i++;
        if (slash > st && end > slash + 1 && (ct[i] == '\0' || ct[i] == ';') && end - st < 128 &&
            strncasecmp(ct + st, "application/octet-stream", end - st) != 0) {
            for (size_t k = st; k < end; k++)
                out[o++] = (char)tolower((unsigned char)ct[k]);
            out[o] = '\0';
            return;
        }
    }
    static const struct { const char *ext, *type; } types[] = {
        {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"png", "image/png"},
        {"gif", "image/gif"}, {"webp", "image/webp"}, {"svg", "image/svg+xml"},
        {"pdf", "application/pdf"}, {"txt", "text/plain"}, {"md", "text/markdown"},
        {"html", "text/html"}, {"htm", "text/html"}, {"json", "application/json"},
        {"zip", "application/zip"}, {"gz", "application/gzip"}, {"tar", "application/x-tar"},
        {"mp4", "video/mp4"}, {"webm", "video/webm"}, {"mov", "video/quicktime"},
        {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"wav", "audio/wav"},
        {"csv", "text/csv"},
    };
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (dot) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot + 1, types[i].ext) == 0) {
                strcpy(out, types[i].type);
                return;
            }
        }
    }
    strcpy(out, "application/octet-stream");
}

/* a type a browser would run (scripts, markup that may carry them) if the storage origin ever
 * served it inline */
static int active_type(const char *t)
{
    static const char *const active[] = {
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
        "text/xsl", "text/javascript", "application/javascript", "application/x-javascript",
        "application/ecmascript", "text/ecmascript", "text/css", "application/x-shockwave-flash",
        "multipart/x-mixed-replace", "text/vtt",
    };
    size_t n = strlen(t);
    if (n > 4 && !strcmp(t + n - 4, "+xml"))
        return 1;
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
        if (!strcmp(t, active[i]))
            return 1;
    return 0;
}

void drop_content_type(const char *ct, const char *name, char out[128])
{
    guess_type(ct, name, out);
    if (active_type(out))
        strcpy(out, "application/octet-stream");   /* stored and served as plain bytes */
}

enum sl_err drop_pct_encode(struct buf *out, const char *s)
{
    return sigv4_uri_encode(out, s, strlen(s), 0);
}

enum sl_err drop_pct_decode(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return SL_EBADREQ;
            char h[3] = {s[i + 1], s[i + 2], 0};
            c = (unsigned char)strtol(h, NULL, 16);
            i += 2;
        }
        if (c == 0)
            return SL_EBADREQ;
        enum sl_err e = buf_putc(out, (char)c);
        if (e)
            return e;
    }
    if (!out->data)
        return buf_puts(out, "");
    return SL_OK;
}

enum sl_err drop_content_disposition(struct buf *out, const char *disposition,
                                     const char *name)
{
    enum sl_err e;
    if ((e = buf_printf(out, "%s; filename=\"", disposition)))
        return e;
    /* the ASCII fallback: printable ASCII without quotes or backslashes */
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((e = buf_putc(out, c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '_')))
            return e;
    }
    if ((e = buf_puts(out, "\"; filename*=UTF-8''")))
        return e;
    return drop_pct_encode(out, name);
}

enum sl_err drop_meta_to_kv(const struct drop_meta *m, int start_only,
                            struct s3_kv kv[DROP_META_KV], size_t *n, struct buf *scratch)
{
    *n = 0;   /* callers append their own entries to kv even when this fails */
    buf_reset(scratch);
    /* every value is written first, then pointed at: scratch may move while it grows */
    static const char *const names[DROP_META_KV] = {"name", "token-hash", "created", "size",
                                                    "sha256", "image", "etag"};
    char created[24], size[24];
    snprintf(created, sizeof created, "%lld", (long long)m->created);
    snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
    const char *plain[DROP_META_KV] = {NULL, m->token_hash, created, size, m->sha256,
                                       m->image[0] ? m->image : "none", m->etag};
    size_t at[DROP_META_KV];
    enum sl_err e;
    at[0] = 0;
    if ((e = drop_pct_encode(scratch, m->name)) || (e = buf_putc(scratch, '\0')))
        return e;
    for (size_t i = 1; i < DROP_META_KV; i++) {
        at[i] = scratch->len;
        if ((e = buf_append(scratch, plain[i], strlen(plain[i]) + 1)))   /* with its NUL */
            return e;
    }
    *n = start_only ? DROP_META_START : DROP_META_KV;
    for (size_t i = 0; i < *n; i++) {
        kv[i].name = (char *)names[i];
        kv[i].value = scratch->data + at[i];
    }
    return SL_OK;
}

/* a percent-encoded name from S3 metadata, decoded and sanitised into out */
static enum sl_err decode_name(const char *enc, char out[DROP_NAME_MAX + 1])
{
    struct buf dec = BUF_INIT(4096);
    enum sl_err e;
    if ((e = drop_pct_decode(&dec, enc, strlen(enc))))
        goto out;
    drop_sanitize_name(dec.data, dec.len, out);
out:
    buf_free(&dec);
    return e;
}

/* 1 when s is one or more decimal digits */
static int is_digits(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s);
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return 0;
    return 1;
}

enum sl_err drop_meta_from_result(const struct s3_result *r, const char *id,
                                  struct drop_meta *m)
{
    memset(m, 0, sizeof *m);
    const char *name = s3_result_meta(r, "name"), *sha = s3_result_meta(r, "sha256");
    const char *th = s3_result_meta(r, "token-hash"), *created = s3_result_meta(r, "created");
    /* sha256 is "" when unknown (a direct upload whose client sent none) */
    if (!name || !sha || (*sha && !is_hex64(sha)) || !is_hex64(th) || !created ||
        !drop_valid_id(id))
        return SL_EBADREQ;
    if (decode_name(name, m->name))
        return SL_EBADREQ;
    strcpy(m->id, id);
    strcpy(m->sha256, sha);
    strcpy(m->token_hash, th);
    m->created = (time_t)strtoll(created, NULL, 10);
    const char *size = s3_result_meta(r, "size");
    if (!is_digits(size))
        return SL_EBADREQ;
    m->size = strtoull(size, NULL, 10);
    drop_content_type(r->content_type, NULL, m->content_type);
    const char *img = s3_result_meta(r, "image");
    snprintf(m->image, sizeof m->image, "%s",
             img && strlen(img) < sizeof m->image && strspn(img, "abcdefghijklmnopqrstuvwxyz") ==
                 strlen(img) ? img : "none");
    drop_etag_copy(s3_result_meta(r, "etag"), m->etag);
    return SL_OK;
}

enum sl_err drop_pending_from_result(const struct s3_result *r, const char *id,
                                     struct drop_meta *m, int *autocommit)
{
    memset(m, 0, sizeof *m);
    *autocommit = 0;
    const char *state = s3_result_meta(r, "state"), *name = s3_result_meta(r, "name");
    const char *created = s3_result_meta(r, "created"), *size = s3_result_meta(r, "size");
    if (!state || strcmp(state, "pending") != 0 || !name || !drop_valid_id(id) ||
        !is_digits(created) || !is_digits(size) || decode_name(name, m->name))
        return SL_EBADREQ;
    strcpy(m->id, id);
    m->created = (time_t)strtoll(created, NULL, 10);
    m->size = strtoull(size, NULL, 10);
    drop_content_type(r->content_type, NULL, m->content_type);
    strcpy(m->image, "none");
    const char *ac = s3_result_meta(r, "autocommit");
    *autocommit = ac && !strcmp(ac, "yes");
    return SL_OK;
}

void drop_etag_copy(const char *etag, char out[80])
{
    out[0] = '\0';
    if (!etag)
        return;
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
        etag++, n -= 2;
    if (n == 0 || n >= 80)
        return;
    for (size_t i = 0; i < n; i++)
        if (etag[i] < 0x21 || etag[i] > 0x7e || etag[i] == '"')
            return;   /* not an ETag S3 would send: treat as unknown */
    memcpy(out, etag, n);
    out[n] = '\0';
}

/* a form-encoded value ('+' is a space) decoded into out */
static enum sl_err form_decode(struct buf *out, const char *s, size_t n)
{
    struct buf raw = BUF_INIT(8192);
    enum sl_err e = SL_OK;
    for (size_t i = 0; i < n; i++)
        if ((e = buf_putc(&raw, s[i] == '+' ? ' ' : s[i])))
            goto out;
    e = drop_pct_decode(out, buf_str(&raw), raw.len);
out:
    buf_free(&raw);
    return e;
}

int drop_query_get(const char *q, const char *name, struct buf *out)
{
    size_t nl = strlen(name);
    buf_reset(out);
    for (const char *p = q; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=')
            return form_decode(out, p + nl + 1, len - nl - 1) == SL_OK;
        p = end ? end + 1 : NULL;
    }
    return 0;
}
