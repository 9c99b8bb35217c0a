#include "config.h"

#include <unistd.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define FILE_MAX (1u << 20)   /* a config file is small; refuse anything absurd */
#define LINE_MAX_LEN 4096
#define MAX_TOKENS 256

enum ktype { K_STR, K_BOOL, K_INT, K_SIZE, K_DURATION, K_STRLIST, K_ADDRESSING, K_FORMAT };

struct key {
    const char *section;
    const char *name;
    enum ktype type;
    size_t off;
    long long min, max;
};

#define O(f) offsetof(struct sluice_config, f)
static const struct key keys[] = {
    {"s3", "endpoint", K_STR, O(s3.endpoint), 0, 0},
    {"s3", "region", K_STR, O(s3.region), 0, 0},
    {"s3", "bucket", K_STR, O(s3.bucket), 0, 0},
    {"s3", "prefix", K_STR, O(s3.prefix), 0, 0},
    {"s3", "access_key_id", K_STR, O(s3.access_key_id), 0, 0},
    {"s3", "secret_access_key", K_STR, O(s3.secret_access_key), 0, 0},
    {"s3", "session_token", K_STR, O(s3.session_token), 0, 0},
    {"s3", "signer_access_key_id", K_STR, O(s3.signer_access_key_id), 0, 0},
    {"s3", "signer_secret_access_key", K_STR, O(s3.signer_secret_access_key), 0, 0},
    {"s3", "part_signer_access_key_id", K_STR, O(s3.part_signer_access_key_id), 0, 0},
    {"s3", "part_signer_secret_access_key", K_STR, O(s3.part_signer_secret_access_key), 0, 0},
    {"s3", "addressing", K_ADDRESSING, O(s3.path_style), 0, 0},
    {"s3", "verify_tls", K_BOOL, O(s3.verify_tls), 0, 0},
    {"s3", "ca_file", K_STR, O(s3.ca_file), 0, 0},
    {"s3", "connect_timeout", K_DURATION, O(s3.connect_timeout), 1, 300},
    {"s3", "stall_timeout", K_DURATION, O(s3.stall_timeout), 0, 3600},
    {"s3", "request_timeout", K_DURATION, O(s3.request_timeout), 0, 3600},
    {"s3", "max_retries", K_INT, O(s3.max_retries), 0, 20},
    {"s3", "retry_base_ms", K_INT, O(s3.retry_base_ms), 1, 60000},
    {"upload", "max_size", K_SIZE, O(upload.max_size), 0, 5LL << 40},
    {"upload", "slots", K_INT, O(upload.slots), 1, 100000},
    {"upload", "buffer_cap", K_SIZE, O(upload.buffer_cap), 64 << 10, 1LL << 30},
    {"upload", "part_size", K_SIZE, O(upload.part_size), S3_MIN_PART_SIZE, 5LL << 30},
    {"upload", "parallel_parts", K_INT, O(upload.parallel_parts), 1, 4},
    {"upload", "idle_timeout", K_DURATION, O(upload.idle_timeout), 1, 3600},
    {"upload", "min_rate", K_SIZE, O(upload.min_rate), 0, 1LL << 30},
    {"upload", "anonymous", K_BOOL, O(upload.anonymous), 0, 0},
    {"upload", "pending_records", K_BOOL, O(upload.pending_records), 0, 0},
    {"upload", "token", K_STRLIST, O(upload.tokens), 0, 0},
    {"upload", "slot_dir", K_STR, O(upload.slot_dir), 0, 0},
    {"upload", "public_url", K_STR, O(upload.public_url), 0, 0},
    {"upload", "download_expires", K_DURATION, O(upload.download_expires), 1, SIGV4_MAX_EXPIRES},
    {"upload", "direct_expires", K_DURATION, O(upload.direct_expires), 1, SIGV4_MAX_EXPIRES},
    {"upload", "reserve_ttl", K_DURATION, O(upload.reserve_ttl), 1, 30LL * 86400},
    {"upload", "cors_origin", K_STRLIST, O(upload.cors_origins), 0, 0},
    {"upload", "reservations", K_INT, O(upload.reservations), 1, 1000000},
    {"upload", "token_reservations", K_INT, O(upload.token_reservations), 1, 1000000},
    {"server", "threads", K_INT, O(server.threads), 1, 1024},
    {"server", "socket", K_STR, O(server.socket), 0, 0},
    {"server", "workers", K_INT, O(server.workers), 0, 256},
    {"server", "drain_timeout", K_DURATION, O(server.drain_timeout), 0, 3600},
    {"server", "janitor_on_start", K_BOOL, O(server.janitor_on_start), 0, 0},
    {"server", "metrics_token", K_STR, O(server.metrics_token), 0, 0},
    {"janitor", "max_age", K_DURATION, O(janitor.max_age), 60, 365LL * 86400},
    {"janitor", "sweep_grace", K_DURATION, O(janitor.sweep_grace), 1, 30LL * 86400},
    {"janitor", "sweep_max", K_INT, O(janitor.sweep_max), 0, 1000000},
    {"thumbs", "enabled", K_BOOL, O(thumbs.enabled), 0, 0},
    {"thumbs", "spool_dir", K_STR, O(thumbs.spool_dir), 0, 0},
    {"thumbs", "max_edge", K_INT, O(thumbs.max_edge), 16, 4096},
    {"thumbs", "max_source", K_SIZE, O(thumbs.max_source), 1024, 1LL << 32},
    {"thumbs", "max_pixels", K_SIZE, O(thumbs.max_pixels), 1, 1LL << 32},
    {"thumbs", "format", K_FORMAT, O(thumbs.webp), 0, 0},
    {"thumbs", "quality", K_INT, O(thumbs.quality), 1, 100},
    {"thumbs", "workers", K_INT, O(thumbs.workers), 1, 64},
};
#undef O

/* the keys of a [token NAME] section, at offsets in its struct token_config */
#define T(f) offsetof(struct token_config, f)
static const struct key token_keys[] = {
    {"token", "secret", K_STRLIST, T(secrets), 0, 0},
    {"token", "max_size", K_SIZE, T(max_size), 1, 5LL << 40},
    {"token", "slots", K_INT, T(slots), 1, 100000},
    {"token", "reservations", K_INT, T(reservations), 1, 1000000},
};
#undef T

const char *config_path(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv("SLUICE_CONFIG");
    if (env && *env)
        return env;
    return access("/etc/sluice/sluice.conf", R_OK) == 0 ? "/etc/sluice/sluice.conf" : NULL;
}

void config_defaults(struct sluice_config *c)
{
    memset(c, 0, sizeof *c);
    c->s3.verify_tls = 1;
    c->s3.path_style = 1;
    c->s3.connect_timeout = 10;
    c->s3.stall_timeout = 30;
    c->s3.request_timeout = 60;
    c->s3.max_retries = 4;
    c->s3.retry_base_ms = 100;
    c->upload.max_size = 5ull << 30;
    c->upload.slots = 8;
    c->upload.buffer_cap = 16u << 20;
    c->upload.part_size = 8u << 20;
    c->upload.parallel_parts = 2;
    c->upload.idle_timeout = 30;
    c->upload.download_expires = 300;
    c->upload.direct_expires = 900;
    c->upload.reserve_ttl = 3600;
    c->upload.min_rate = 1024;
    c->upload.pending_records = 1;
    c->upload.reservations = 1000;
    c->upload.token_reservations = 100;
    c->server.threads = 16;
    c->server.drain_timeout = 30;
    c->server.janitor_on_start = 1;
    c->janitor.max_age = 86400;
    c->janitor.sweep_grace = 3600;
    c->janitor.sweep_max = 10000;
    c->thumbs.enabled = 1;
    c->thumbs.max_edge = 320;
    c->thumbs.max_source = 50u << 20;
    c->thumbs.max_pixels = 40000000;
    c->thumbs.quality = 82;
    c->thumbs.workers = 2;
}

static void free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

void config_free(struct sluice_config *c)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        void *p = (char *)c + keys[i].off;
        if (keys[i].type == K_STR) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (keys[i].type == K_STRLIST) {
            free_list(*(char ***)p);
            *(char ***)p = NULL;
        }
    }
    for (int i = 0; i < c->ntokens; i++) {
        free(c->tokens[i].name);
        free_list(c->tokens[i].secrets);
    }
    c->ntokens = 0;
}

enum sl_err config_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return SL_ECONFIG;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return SL_ECONFIG;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return SL_ECONFIG;
    *out = (uint64_t)v << shift;
    return SL_OK;
}

enum sl_err config_parse_duration(const char *s, long *seconds)
{
    if (!s || !isdigit((unsigned char)*s))
        return SL_ECONFIG;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return SL_ECONFIG;
    long long mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v > (long long)(365LL * 86400 * 100) / mul)
        return SL_ECONFIG;
    *seconds = (long)(v * mul);
    return SL_OK;
}

static enum sl_err parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
             !strcmp(s, "0"))
        *out = 0;
    else
        return SL_ECONFIG;
    return SL_OK;
}

static enum sl_err list_add(char ***lp, const char *v, size_t n)
{
    size_t len = 0;
    while (*lp && (*lp)[len])
        len++;
    if (len >= MAX_TOKENS)
        return SL_ECONFIG;
    char **l = realloc(*lp, (len + 2) * sizeof *l);
    if (!l)
        return SL_ENOMEM;
    *lp = l;
    l[len] = strndup(v, n);
    l[len + 1] = NULL;
    return l[len] ? SL_OK : SL_ENOMEM;
}

/* base: the struct k->off is an offset in (the config, or one token section) */
static enum sl_err set_value(void *base, const struct key *k, const char *v,
                             const char **problem)
{
    void *p = (char *)base + k->off;
    long long num = 0;
    switch (k->type) {
    case K_STR: {
        char *d = strdup(v);
        if (!d)
            return SL_ENOMEM;
        free(*(char **)p);
        *(char **)p = d;
        return SL_OK;
    }
    case K_BOOL:
        *problem = "expected true or false";
        return parse_bool(v, (int *)p);
    case K_FORMAT:
        *problem = "expected jpeg or webp";
        if (!strcmp(v, "jpeg"))
            *(int *)p = 0;
        else if (!strcmp(v, "webp"))
            *(int *)p = 1;
        else
            return SL_ECONFIG;
        return SL_OK;
    case K_ADDRESSING:
        *problem = "expected path or virtual";
        if (!strcmp(v, "path"))
            *(int *)p = 1;
        else if (!strcmp(v, "virtual"))
            *(int *)p = 0;
        else
            return SL_ECONFIG;
        return SL_OK;
    case K_STRLIST: {
        /* repeated keys add; one line may also carry several, separated by commas/spaces */
        const char *s = v;
        while (*s) {
            size_t skip = strspn(s, ", \t"), n;
            s += skip;
            n = strcspn(s, ", \t");
            if (n) {
                enum sl_err e = list_add((char ***)p, s, n);
                if (e) {
                    *problem = "too many values";
                    return e;
                }
            }
            s += n;
        }
        return SL_OK;
    }
    case K_INT: {
        char *end;
        errno = 0;
        num = strtoll(v, &end, 10);
        *problem = "expected a whole number";
        if (errno || end == v || *end)
            return SL_ECONFIG;
        break;
    }
    case K_SIZE: {
        uint64_t s;
        *problem = "expected a size such as 512K, 64M or 5G";
        if (config_parse_size(v, &s))
            return SL_ECONFIG;
        if (s > (uint64_t)k->max) {
            *problem = "out of range";
            return SL_ECONFIG;
        }
        num = (long long)s;
        break;
    }
    case K_DURATION: {
        long s;
        *problem = "expected a duration such as 30s, 15m, 2h or 7d";
        if (config_parse_duration(v, &s))
            return SL_ECONFIG;
        num = s;
        break;
    }
    }
    if (num < k->min || num > k->max) {
        *problem = "out of range";
        return SL_ECONFIG;
    }
    switch (k->type) {
    case K_INT: *(int *)p = (int)num; break;
    case K_SIZE: *(uint64_t *)p = (uint64_t)num; break;
    case K_DURATION: *(long *)p = (long)num; break;
    default: break;
    }
    return SL_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static const struct key *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

static int known_section(const char *s)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].section, s))
            return 1;
    return 0;
}

/* a new [token NAME] section; NULL, or what is wrong with it */
static const char *new_token(struct sluice_config *c, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789_-") != n)
        return "a name is 1 to 32 of A-Z a-z 0-9 _ -";
    if (!strcmp(name, "default") || !strcmp(name, "anonymous"))
        return "'default' and 'anonymous' are the names of [upload]'s tokens";
    for (int i = 0; i < c->ntokens; i++)
        if (!strcmp(c->tokens[i].name, name))
            return "a second section of the same name";
    if (c->ntokens == CONFIG_MAX_TOKENS)
        return "too many [token] sections";
    struct token_config *t = &c->tokens[c->ntokens];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return "out of memory";
    c->ntokens++;
    return NULL;
}

/* A byte that has no business in a text file: every control byte but tab, and CR only as
 * the end of a CR LF line. Returns its offset in line[0..n), or -1. */
static long bad_byte(const char *line, size_t n, int lf_follows)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch == '\t' || (ch == '\r' && i + 1 == n && lf_follows))
            continue;
        if (ch < 0x20 || ch == 0x7f)
            return (long)i;
    }
    return -1;
}

/* The value after '=': a quoted string up to its closing quote (where '#' and ';' are data),
 * or bare text up to a '#' or ';' that follows whitespace (so "a#b" stays whole); after a
 * quoted value only such a comment may follow. Cuts v in place; NULL with *problem on error.
 * v points just past the '=' (now NUL) in the line, so v[-1] can always be read. */
static char *value_of(char *v, const char **problem)
{
    char *s = v;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '"' || *s == '\'') {
        char *close = strchr(s + 1, *s);
        if (!close) {
            *problem = "unterminated quoted value";
            return NULL;
        }
        *close = '\0';
        char *rest = trim(close + 1);
        if (*rest && *rest != '#' && *rest != ';') {
            *problem = "text after the quoted value";
            return NULL;
        }
        return s + 1;
    }
    for (; *s; s++)
        if ((*s == '#' || *s == ';') && (s[-1] == ' ' || s[-1] == '\t')) {
            *s = '\0';
            break;
        }
    return trim(v);
}

enum sl_err config_parse_mem(struct sluice_config *c, const char *name, const char *text,
                             size_t len, struct buf *why)
{
    char section[64] = "";
    int lineno = 0;
    const char *p = text, *end = text + len;
    char line[LINE_MAX_LEN + 1];
    while (p < end) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > LINE_MAX_LEN) {
            buf_printf(why, "%s:%d: line too long (max %d bytes)", name, lineno, LINE_MAX_LEN);
            return SL_ECONFIG;
        }
        long bad = bad_byte(p, n, nl != NULL);
        if (bad >= 0) {
            if (p[bad] == '\0')
                buf_printf(why, "%s:%d: NUL byte in line", name, lineno);
            else
                buf_printf(why, "%s:%d: control byte 0x%02x in line", name, lineno,
                           (unsigned char)p[bad]);
            return SL_ECONFIG;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (nl != NULL);
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *rb = strchr(s, ']');
            char *rest = rb ? trim(rb + 1) : NULL;
            if (!rb || (*rest && *rest != '#' && *rest != ';') || (*rest && rest == rb + 1)) {
                buf_printf(why, "%s:%d: malformed section header", name, lineno);
                return SL_ECONFIG;
            }
            *rb = '\0';
            char *sec = trim(s + 1);
            if (!strncmp(sec, "token", 5) && isspace((unsigned char)sec[5])) {
                const char *problem = new_token(c, trim(sec + 6));
                if (problem) {
                    buf_printf(why, "%s:%d: [token]: %s", name, lineno, problem);
                    return SL_ECONFIG;
                }
                snprintf(section, sizeof section, "token");
                continue;
            }
            if (!known_section(sec)) {
                buf_printf(why, "%s:%d: unknown section [%.64s]", name, lineno, sec);
                return SL_ECONFIG;
            }
            snprintf(section, sizeof section, "%s", sec);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            buf_printf(why, "%s:%d: expected 'key = value'", name, lineno);
            return SL_ECONFIG;
        }
        *eq = '\0';
        char *k = trim(s);
        if (!*section) {
            buf_printf(why, "%s:%d: '%.64s' is outside any [section]", name, lineno, k);
            return SL_ECONFIG;
        }
        const struct key *key = NULL;
        void *base = c;
        if (!strcmp(section, "token")) {
            base = &c->tokens[c->ntokens - 1];
            for (size_t i = 0; i < sizeof token_keys / sizeof token_keys[0]; i++)
                if (!strcmp(token_keys[i].name, k))
                    key = &token_keys[i];
        } else {
            key = find_key(section, k);
        }
        if (!key) {
            buf_printf(why, "%s:%d: unknown key '%.64s' in [%s]", name, lineno, k, section);
            return SL_ECONFIG;
        }
        const char *problem = "bad value";
        char *v = value_of(eq + 1, &problem);
        if (!v) {
            buf_printf(why, "%s:%d: %s.%s: %s", name, lineno, section, k, problem);
            return SL_ECONFIG;
        }
        enum sl_err e = set_value(base, key, v, &problem);
        if (e == SL_ENOMEM)
            return e;
        if (e) {
            buf_printf(why, "%s:%d: %s.%s: %s (got '%.64s')", name, lineno, section, k, problem,
                       v);
            return SL_ECONFIG;
        }
    }
    return SL_OK;
}

enum sl_err config_parse(struct sluice_config *c, const char *name, const char *text,
                         struct buf *why)
{
    return config_parse_mem(c, name, text, strlen(text), why);
}

static enum sl_err fill_from_env(char **field, const char *var)
{
    const char *v = getenv(var);
    if (*field || !v || !*v)
        return SL_OK;
    *field = strdup(v);
    return *field ? SL_OK : SL_ENOMEM;
}

enum sl_err config_from_env(struct sluice_config *c, struct buf *why)
{
    (void)why;
    static const struct { size_t off; const char *var; } env[] = {
        {offsetof(struct s3_config, access_key_id), "AWS_ACCESS_KEY_ID"},
        {offsetof(struct s3_config, secret_access_key), "AWS_SECRET_ACCESS_KEY"},
        {offsetof(struct s3_config, session_token), "AWS_SESSION_TOKEN"},
        {offsetof(struct s3_config, region), "AWS_REGION"},
        {offsetof(struct s3_config, region), "AWS_DEFAULT_REGION"},
        {offsetof(struct s3_config, endpoint), "AWS_ENDPOINT_URL_S3"},
        {offsetof(struct s3_config, endpoint), "AWS_ENDPOINT_URL"},
        {offsetof(struct s3_config, bucket), "S3_BUCKET"},
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        enum sl_err e = fill_from_env((char **)((char *)&c->s3 + env[i].off), env[i].var);
        if (e)
            return e;
    }
    return SL_OK;
}

enum sl_err config_validate(const struct sluice_config *c, struct buf *why)
{
    const struct s3_config *s = &c->s3;
    struct s3_endpoint ep;
    if (!s->bucket || !*s->bucket) {
        buf_puts(why, "no bucket: set 'bucket' in [s3] or S3_BUCKET");
        return SL_ECONFIG;
    }
    if (strpbrk(s->bucket, "/ ?#")) {
        buf_printf(why, "s3.bucket: not a bucket name: '%.64s'", s->bucket);
        return SL_ECONFIG;
    }
    if (!s->access_key_id || !*s->access_key_id || !s->secret_access_key ||
        !*s->secret_access_key) {
        buf_puts(why, "missing credentials: set access_key_id and secret_access_key in [s3], "
                      "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return SL_ECONFIG;
    }
    if (!s->signer_access_key_id != !s->signer_secret_access_key ||
        !s->part_signer_access_key_id != !s->part_signer_secret_access_key) {
        buf_puts(why, "s3: a signer needs both its access_key_id and its secret_access_key");
        return SL_ECONFIG;
    }
    if (s->endpoint && s3_parse_endpoint(s->endpoint, &ep)) {
        buf_printf(why, "s3.endpoint: not an http(s)://host[:port] URL: '%.128s'", s->endpoint);
        return SL_ECONFIG;
    }
    if (!s->endpoint && !s->region) {
        buf_puts(why, "no endpoint and no region: set one in [s3] or AWS_REGION");
        return SL_ECONFIG;
    }
    if (c->upload.part_size > c->upload.buffer_cap) {
        buf_printf(why, "upload.part_size (%llu) must not exceed upload.buffer_cap (%llu)",
                   (unsigned long long)c->upload.part_size,
                   (unsigned long long)c->upload.buffer_cap);
        return SL_ECONFIG;
    }
    return SL_OK;
}

/* 1 if secret is one of list's (NULL-terminated) */
static int listed(char *const *list, const char *secret)
{
    for (; list && *list; list++)
        if (!strcmp(*list, secret))
            return 1;
    return 0;
}

static enum sl_err validate_tokens(const struct sluice_config *c, struct buf *why)
{
    for (int i = 0; i < c->ntokens; i++) {
        const struct token_config *t = &c->tokens[i];
        if (!t->secrets) {
            buf_printf(why, "[token %s]: no secret", t->name);
            return SL_ECONFIG;
        }
        if (t->max_size > c->upload.max_size) {
            buf_printf(why, "[token %s]: max_size is above upload.max_size", t->name);
            return SL_ECONFIG;
        }
        if (t->slots > c->upload.slots) {
            buf_printf(why, "[token %s]: slots (%d) is above upload.slots (%d)", t->name,
                       t->slots, c->upload.slots);
            return SL_ECONFIG;
        }
        /* one secret, one name: else which limits apply would depend on the order */
        for (char *const *s = t->secrets; *s; s++) {
            int clash = listed(c->upload.tokens, *s) || listed(s + 1, *s);
            for (int j = i + 1; j < c->ntokens; j++)
                clash |= listed(c->tokens[j].secrets, *s);
            if (clash) {
                buf_printf(why, "[token %s]: a secret is also another token's", t->name);
                return SL_ECONFIG;
            }
        }
    }
    return SL_OK;
}

enum sl_err config_validate_upload(const struct sluice_config *c, struct buf *why)
{
    if (c->upload.max_size == 0) {
        buf_puts(why, "upload.max_size must be at least 1 byte");
        return SL_ECONFIG;
    }
    if (c->upload.slots >= c->server.threads) {
        buf_printf(why, "upload.slots (%d) must be below server.threads (%d), so pages and "
                        "503 answers are served while every slot is busy",
                   c->upload.slots, c->server.threads);
        return SL_ECONFIG;
    }
    if (!c->upload.slot_dir) {
        buf_puts(why, "upload.slot_dir is not set (e.g. /run/sluice/slots)");
        return SL_ECONFIG;
    }
    if (!c->upload.anonymous && !c->upload.tokens && c->ntokens == 0) {
        buf_puts(why, "uploads need a token: add 'token = ...' to [upload], a [token NAME] "
                      "section, or set 'anonymous = true'");
        return SL_ECONFIG;
    }
    return validate_tokens(c, why);
}

/* path's contents parsed into c */
static enum sl_err load_file(struct sluice_config *c, const char *path, struct buf *why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        buf_printf(why, "%s: cannot open: %s", path, strerror(errno));
        return SL_ECONFIG;
    }
    struct buf text = BUF_INIT(FILE_MAX);
    char tmp[4096];
    size_t n;
    enum sl_err e = SL_OK;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if ((e = buf_append(&text, tmp, n)))
            break;
    int rerr = ferror(f);
    fclose(f);
    if (e == SL_ETOOBIG || rerr) {
        buf_printf(why, "%s: %s", path, rerr ? "read error" : "file too large");
        e = SL_ECONFIG;
        goto out;
    }
    if (e)
        goto out;
    e = config_parse_mem(c, path, text.data, text.len, why);
out:
    buf_free(&text);
    return e;
}

/* a command-line setting, through the same table and checks as a line of the file */
static enum sl_err apply_override(struct sluice_config *c, const struct config_override *o,
                                  struct buf *why)
{
    const char *dot = strchr(o->key, '.');
    const struct key *key = NULL;
    char section[64];
    if (dot && (size_t)(dot - o->key) < sizeof section) {
        snprintf(section, sizeof section, "%.*s", (int)(dot - o->key), o->key);
        key = find_key(section, dot + 1);
    }
    if (!key) {
        buf_printf(why, "%s: unknown setting '%.64s'", o->from, o->key);
        return SL_ECONFIG;
    }
    const char *problem = "bad value";
    enum sl_err e = set_value(c, key, o->value, &problem);
    if (e == SL_ENOMEM)
        return e;
    if (e) {
        buf_printf(why, "%s: %s: %s (got '%.64s')", o->from, o->key, problem, o->value);
        return SL_ECONFIG;
    }
    return SL_OK;
}

enum sl_err config_load_with(struct sluice_config *c, const char *path,
                             const struct config_override *ov, size_t nov, struct buf *why)
{
    enum sl_err e;
    if (path && (e = load_file(c, path, why)))
        return e;
    if ((e = config_from_env(c, why)))
        return e;
    for (size_t i = 0; i < nov; i++)
        if ((e = apply_override(c, &ov[i], why)))
            return e;
    /* an S3-compatible server mostly ignores the region (RGW's default is us-east-1); AWS,
     * reached when no endpoint is set, must be told, or it refuses every signature made for
     * another region: so no default there, and config_validate says what is missing */
    if (c->s3.endpoint && !c->s3.region && !(c->s3.region = strdup("us-east-1")))
        return SL_ENOMEM;
    if (!c->s3.prefix && !(c->s3.prefix = strdup("sluice/")))
        return SL_ENOMEM;
    return config_validate(c, why);
}

enum sl_err config_load(struct sluice_config *c, const char *path, struct buf *why)
{
    return config_load_with(c, path, NULL, 0, why);
}
