/* sluicectl: the operator's command line — presign, post-policy, check, janitor. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "bucketcfg.h"
#include "config.h"
#include "janitor.h"
#include "json.h"
#include "s3.h"
#include "sigv4.h"
#include "xml.h"

static const char usage[] =
    "usage: sluicectl [-c CONFIG] COMMAND [options]\n"
    "  presign [--expires S] [--at YYYYMMDDTHHMMSSZ] [--content-type T] [--content-length N]\n"
    "          METHOD KEY            print a presigned URL for KEY (the full object key)\n"
    "  post-policy [--expires S] [--max-size N] [--content-type T] [--prefix] [--at ...] KEY\n"
    "                                print a browser POST form: the URL, then name=value fields\n"
    "  check                         reach the bucket and report what is wrong, in plain words\n"
    "  setup-bucket [--force]        add the CORS rule direct uploads need and a lifecycle\n"
    "                                rule aborting stale multipart uploads to the bucket's own\n"
    "                                rules (kept as they are); --force also replaces sluice's\n"
    "                                rules when they say something else\n"
    "  janitor [--older-than DURATION] [--dry-run]\n"
    "                                abort dead uploads, remove dead reservations, sweep\n"
    "                                drops/ and thumbs/ objects that nothing refers to\n"
    "CONFIG defaults to $SLUICE_CONFIG, else /etc/sluice/sluice.conf if it exists; the AWS_*\n"
    "environment variables fill in what the file leaves unset.\n";

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "sluicectl: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static int parse_at(const char *s, time_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!sigv4_valid_amz_date(s))
        return -1;
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end)
        return -1;
    *t = timegm(&tm);
    return 0;
}

enum { OPT_EXPIRES = 1, OPT_AT, OPT_CT, OPT_CL, OPT_MAX, OPT_PREFIX, OPT_AGE, OPT_DRY,
       OPT_FORCE };
static const struct option long_opts[] = {
    {"expires", required_argument, NULL, OPT_EXPIRES},
    {"at", required_argument, NULL, OPT_AT},
    {"content-type", required_argument, NULL, OPT_CT},
    {"content-length", required_argument, NULL, OPT_CL},
    {"max-size", required_argument, NULL, OPT_MAX},
    {"prefix", no_argument, NULL, OPT_PREFIX},
    {"older-than", required_argument, NULL, OPT_AGE},
    {"dry-run", no_argument, NULL, OPT_DRY},
    {"force", no_argument, NULL, OPT_FORCE},
    {NULL, 0, NULL, 0},
};

struct opts {
    long expires;
    time_t at;
    const char *content_type;
    const char *content_length;
    uint64_t max_size;
    int prefix;
    long older_than;
    int dry_run;
    int force;
};

static int parse_opts(int argc, char **argv, struct opts *o, long default_age)
{
    o->expires = 3600;
    o->at = time(NULL);
    o->older_than = default_age;
    int ch;
    uint64_t n;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (ch) {
        case OPT_EXPIRES:
            if (config_parse_duration(optarg, &o->expires) || o->expires < 1 ||
                o->expires > SIGV4_MAX_EXPIRES)
                return die("--expires: expected 1s..7d, got '%s'", optarg);
            break;
        case OPT_AT:
            if (parse_at(optarg, &o->at))
                return die("--at: expected YYYYMMDDTHHMMSSZ, got '%s'", optarg);
            break;
        case OPT_CT: o->content_type = optarg; break;
        case OPT_CL:
            if (config_parse_size(optarg, &n) || strspn(optarg, "0123456789") != strlen(optarg))
                return die("--content-length: expected a byte count, got '%s'", optarg);
            o->content_length = optarg;
            break;
        case OPT_MAX:
            if (config_parse_size(optarg, &o->max_size))
                return die("--max-size: expected a size such as 10M, got '%s'", optarg);
            break;
        case OPT_PREFIX: o->prefix = 1; break;
        case OPT_AGE:
            if (config_parse_duration(optarg, &o->older_than))
                return die("--older-than: expected a duration such as 6h, got '%s'", optarg);
            break;
        case OPT_DRY: o->dry_run = 1; break;
        case OPT_FORCE: o->force = 1; break;
        default: fputs(usage, stderr); return 1;
        }
    }
    return 0;
}

static int cmd_presign(struct sluice_config *c, int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o, 0))
        return 1;
    if (argc - optind != 2)
        return die("%s", "presign: need METHOD and KEY");
    const char *method = argv[optind], *key = argv[optind + 1];
    static const char *const methods[] = {"GET", "PUT", "HEAD", "DELETE", NULL};
    int ok = 0;
    for (int i = 0; methods[i]; i++)
        ok |= !strcmp(method, methods[i]);
    if (!ok)
        return die("presign: METHOD must be GET, PUT, HEAD or DELETE, got '%s'", method);
    if (!*key)
        return die("%s", "presign: KEY must not be empty");
    struct s3_kv h[2];
    size_t nh = 0;
    if (o.content_type)
        h[nh++] = (struct s3_kv){"content-type", (char *)o.content_type};
    if (o.content_length)
        h[nh++] = (struct s3_kv){"content-length", (char *)o.content_length};
    struct buf url = BUF_INIT(64 * 1024);
    int rc = 0;
    enum sl_err e;
    if ((e = s3_presign(&c->s3, method, key, NULL, h, nh, o.expires, o.at, &url))) {
        rc = die("presign: %s", sl_err_str(e));
        goto out;
    }
    puts(buf_str(&url));
out:
    buf_free(&url);
    return rc;
}

static int cmd_post_policy(struct sluice_config *c, int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o, 0))
        return 1;
    if (argc - optind != 1 || !*argv[optind])
        return die("%s", "post-policy: need KEY");
    struct s3_post_opts po = {.key = argv[optind], .starts_with = o.prefix,
                              .max_size = o.max_size, .content_type = o.content_type,
                              .success_status = 201, .expires = o.expires};
    struct s3_post_form f;
    enum sl_err e = s3_post_policy(&c->s3, &po, o.at, &f);
    if (e)
        return die("post-policy: %s", sl_err_str(e));
    puts(buf_str(&f.url));
    for (size_t i = 0; i < f.n_fields; i++)
        printf("%s=%s\n", f.fields[i].name, f.fields[i].value);
    s3_post_form_free(&f);
    return 0;
}

static void explain(const char *what, enum sl_err e, const struct s3_result *r)
{
    const char *text = sl_err_str(e);
    if (!strcmp(r->code, "SignatureDoesNotMatch"))
        text = "the secret access key is wrong";
    else if (!strcmp(r->code, "InvalidAccessKeyId"))
        text = "the access key id is unknown to the server";
    else if (!strcmp(r->code, "RequestTimeTooSkewed"))
        text = "this machine's clock is too far from the server's: fix NTP";
    else if (!strcmp(r->code, "NoSuchBucket") || (e == SL_ES3_NOTFOUND && strstr(what, "bucket")))
        text = "the bucket does not exist";
    else if (e == SL_ES3_NET)
        text = "cannot reach the server: check the endpoint, and that the server is up";
    printf("FAIL %s: %s [HTTP %ld %s%s%s]\n", what, text, r->status, r->code,
           r->message[0] ? ": " : "", r->message);
}

/* 1 if e is S3 refusing us (403 and the like), which is what the signers must get */
static int refused(enum sl_err e)
{
    return e == SL_ES3_AUTH || e == SL_ES3_REJECTED;
}

/* one signer: it must not read (so no copy source), set an ACL or write outside drops/; the
 * single-PUT signer must write a drop the worker can read. 1 if a problem was found. */
static int check_signer(const struct sluice_config *c, struct s3_client *owner, const char *what,
                        const char *ak, const char *sk, int single, const char *probe)
{
    if (!ak) {
        printf("warn %s not set: upload URLs handed to clients are signed with the worker's own "
               "key, which can read (copy) any object and set ACLs (docs/design.md, "
               "\"Least-privilege signing\")\n", what);
        return 0;
    }
    struct s3_config sc = c->s3;
    sc.access_key_id = (char *)ak;
    sc.secret_access_key = (char *)sk;
    sc.session_token = NULL;
    sc.max_retries = 0;
    struct s3_client *cl;
    struct s3_result r = S3_RESULT_INIT;
    struct buf got = BUF_INIT(64);
    char key[512];
    int bad = 0;
    if (s3_client_new(&sc, &cl))
        return die("%s", "out of memory");
    enum sl_err e = s3_get_object(cl, probe, NULL, s3_write_to_buf, &got, &r);
    printf("%s %s cannot read objects (so cannot copy them)\n", refused(e) ? "ok  " : "FAIL",
           what);
    bad |= !refused(e);
    struct s3_body body = {.length = 5, .mem = "probe"};
    struct s3_put_opts pub = {.acl = "public-read"};
    snprintf(key, sizeof key, "%sdrops/check-%ld-%d", c->s3.prefix, (long)time(NULL), getpid());
    e = s3_put_object(cl, key, &body, &pub, &r);
    if (single || refused(e)) {
        printf("%s %s cannot write a public-read object\n", refused(e) ? "ok  " : "FAIL", what);
        bad |= !refused(e);
    } else {
        printf("note %s may PUT with an ACL of its own choosing: only sign parts with it (their "
               "URLs cannot become a plain PUT)\n", what);
    }
    if (!e)
        s3_delete_object(owner, key, &r);
    char outside[512];
    snprintf(outside, sizeof outside, "%smeta/check-%ld-%d", c->s3.prefix, (long)time(NULL),
             getpid());
    struct s3_put_opts bofc = {.acl = "bucket-owner-full-control"};
    e = s3_put_object(cl, outside, &body, &bofc, &r);
    printf("%s %s cannot write outside %sdrops/\n", refused(e) ? "ok  " : "FAIL", what,
           c->s3.prefix);
    bad |= !refused(e);
    if (!e)
        s3_delete_object(owner, outside, &r);
    if (single) {
        e = s3_put_object(cl, key, &body, &bofc, &r);
        buf_reset(&got);
        enum sl_err ge = e ? e : s3_get_object(owner, key, NULL, s3_write_to_buf, &got, &r);
        printf("%s %s writes drops (bucket-owner-full-control) the worker can read\n",
               !ge ? "ok  " : "FAIL", what);
        bad |= ge != SL_OK;
        if (!e)
            s3_delete_object(owner, key, &r);
    }
    buf_free(&got);
    s3_result_free(&r);
    s3_client_free(cl);
    return bad;
}

static size_t read_probe(char *dst, size_t size, size_t n, void *ud)
{
    const char **p = ud;
    size_t len = strlen(*p), k = len < size * n ? len : size * n;
    memcpy(dst, *p, k);
    *p += k;
    return k;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* Does the store apply an x-amz-* header a client adds to a presigned PUT without signing
 * it? (RGW does, AWS refuses the request.) -1 if it could not be told. */
static int honours_unsigned(const struct sluice_config *c, struct s3_client *owner)
{
    struct buf url = BUF_INIT(16384);
    struct s3_result r = S3_RESULT_INIT;
    char key[512];
    long status = 0;
    int yes = -1;
    snprintf(key, sizeof key, "%scheck/unsigned-%ld-%d", c->s3.prefix, (long)time(NULL), getpid());
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "x-amz-meta-probe: unsigned");
    struct curl_slist *hd2 = hd ? curl_slist_append(hd, "Expect:") : NULL;
    const char *body = "probe";
    if (!h || !hd2 || s3_presign(&c->s3, "PUT", key, NULL, NULL, 0, 60, time(NULL), &url))
        goto out;
    hd = hd2;
    curl_easy_setopt(h, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_probe);
    curl_easy_setopt(h, CURLOPT_READDATA, &body);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)5);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (!c->s3.verify_tls) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->s3.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->s3.ca_file);
    if (curl_easy_perform(h) != CURLE_OK)
        goto out;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) {
        yes = 0;   /* refused: the header would have had to be signed */
        goto out;
    }
    if (s3_head_object(owner, key, &r) == SL_OK)
        yes = s3_result_meta(&r, "probe") != NULL;
    s3_delete_object(owner, key, &r);
out:
    curl_slist_free_all(hd);
    if (h)
        curl_easy_cleanup(h);
    s3_result_free(&r);
    buf_free(&url);
    return yes;
}

/* ---- the bucket's lifecycle and CORS documents (ctl/bucketcfg.h says what is sluice's) ---- */

static char **cors_origins(struct sluice_config *c)
{
    static char *fallback[2];
    fallback[0] = c->upload.public_url;
    return c->upload.cors_origins ? c->upload.cors_origins : fallback;
}

/* The bucket's CORS (cors=1) or lifecycle document into doc, left empty when the bucket has
 * none: S3's 404 with that document's own code (a 404 NoSuchBucket is an error). */
static enum sl_err get_config(struct s3_client *cl, int cors, struct buf *doc,
                              struct s3_result *r)
{
    enum sl_err e = s3_bucket_get_xml(cl, cors ? "cors" : "lifecycle", doc, r);
    if (e == SL_ES3_NOTFOUND &&
        !strcmp(r->code, cors ? "NoSuchCORSConfiguration" : "NoSuchLifecycleConfiguration")) {
        buf_reset(doc);
        return SL_OK;
    }
    return e;
}

static enum sl_err merge_part(struct sluice_config *c, int cors, const struct buf *doc,
                              int force, struct bucketcfg_merge *m)
{
    if (cors)
        return bucketcfg_cors(doc->data, doc->len, cors_origins(c), force, m);
    return bucketcfg_lifecycle(doc->data, doc->len, c->s3.prefix, force, m);
}

/* what sluice's rule does, in words */
static void say_mine(struct sluice_config *c, int cors)
{
    if (!cors) {
        printf("multipart uploads under '%s' are aborted one day after they start\n",
               c->s3.prefix);
        return;
    }
    printf("GET, HEAD, PUT, POST from");
    for (char **p = cors_origins(c); *p; p++)
        printf(" %s", *p);
    printf("; any header; ETag exposed\n");
}

static void say_shadows(const char *what, const struct bucketcfg_merge *m)
{
    for (size_t i = 0; i < m->n_foreign; i++)
        if (m->foreign[i].shadows)
            printf("warn %s rule %s comes before sluice's and answers browsers' PUT/POST from "
                   "sluice's origins itself (S3 uses the first rule that matches)\n", what,
                   m->foreign[i].line);
}

/* setup-bucket for one document: read it, merge sluice's rule into it, PUT it if that
 * changed it, and read it back. 1 if something is wrong or left to --force. */
static int setup_part(struct sluice_config *c, struct s3_client *cl, int cors, int force)
{
    const char *what = cors ? "CORS" : "lifecycle";
    struct buf doc = BUF_INIT(1 << 20);
    struct s3_result r = S3_RESULT_INIT;
    struct bucketcfg_merge m = {0}, back = {0};
    char act[64];
    int bad = 1;
    enum sl_err e = get_config(cl, cors, &doc, &r);
    if (e) {
        snprintf(act, sizeof act, "read the %s configuration", what);
        explain(act, e, &r);
        goto out;
    }
    if ((e = merge_part(c, cors, &doc, force, &m))) {
        printf("%s: %s; the bucket's configuration is left as it is\n", what,
               e == SL_EBADREQ ? "the bucket's document is not one sluicectl can read"
                               : sl_err_str(e));
        goto out;
    }
    for (size_t i = 0; i < m.n_foreign; i++)
        printf("%s: kept rule %s\n", what, m.foreign[i].line);
    if (!m.changed) {
        if (m.found == BUCKETCFG_CURRENT) {
            printf("%s: sluice's rule is already there: ", what);
            say_mine(c, cors);
            bad = 0;
        } else {
            printf("%s: sluice's rule says something else (%s); --force replaces it (and only "
                   "it)\n", what, m.mine);
        }
        say_shadows(what, &m);
        goto out;
    }
    if ((e = s3_bucket_put_xml(cl, cors ? "cors" : "lifecycle", m.doc, &r))) {
        snprintf(act, sizeof act, "set the %s configuration", what);
        explain(act, e, &r);
        goto out;
    }
    /* the store may rewrite what it was sent (RGW does): what it now answers must still hold
     * sluice's rule, current, and every rule it held before */
    if ((e = get_config(cl, cors, &doc, &r)) || merge_part(c, cors, &doc, 0, &back) ||
        back.found != BUCKETCFG_CURRENT || back.n_foreign != m.n_foreign) {
        printf("FAIL %s: read back after the PUT, the bucket's document does not hold sluice's "
               "rule and the %zu other%s\n", what, m.n_foreign, m.n_foreign == 1 ? "" : "s");
        goto out;
    }
    printf("%s: %s sluice's rule: ", what, m.found == BUCKETCFG_ABSENT ? "added" : "replaced");
    say_mine(c, cors);
    say_shadows(what, &m);
    bad = 0;
out:
    bucketcfg_merge_free(&m);
    bucketcfg_merge_free(&back);
    s3_result_free(&r);
    buf_free(&doc);
    return bad;
}

/* check for one document: the rules it leaves alone, and sluice's */
static void check_part(struct sluice_config *c, struct s3_client *cl, int cors)
{
    const char *what = cors ? "CORS" : "lifecycle";
    struct buf doc = BUF_INIT(1 << 20);
    struct s3_result r = S3_RESULT_INIT;
    struct bucketcfg_merge m = {0};
    char act[64];
    enum sl_err e = get_config(cl, cors, &doc, &r);
    if (e) {
        snprintf(act, sizeof act, "read the %s configuration", what);
        explain(act, e, &r);
        goto out;
    }
    if (cors && !cors_origins(c)[0]) {
        printf("note upload.cors_origin and upload.public_url unset: direct uploads from "
               "browsers are off, CORS not checked\n");
        goto out;
    }
    if ((e = merge_part(c, cors, &doc, 0, &m))) {
        printf("warn the bucket's %s document is not one sluicectl can read (%s)\n", what,
               sl_err_str(e));
        goto out;
    }
    for (size_t i = 0; i < m.n_foreign; i++)
        printf("note %s rule left alone (not sluice's): %s\n", what, m.foreign[i].line);
    switch (m.found) {
    case BUCKETCFG_CURRENT:
        printf("ok   %s: sluice's rule: ", what);
        say_mine(c, cors);
        break;
    case BUCKETCFG_STALE:
        printf("warn %s: sluice's rule says something else (%s): sluicectl setup-bucket "
               "--force\n", what, m.mine);
        break;
    default:
        if (cors)
            printf("warn no CORS rule of sluice's: browsers cannot upload directly to the "
                   "bucket (sluicectl setup-bucket)\n");
        else
            printf("warn no lifecycle rule of sluice's aborts incomplete multipart uploads "
                   "(sluicectl setup-bucket)\n");
    }
    say_shadows(what, &m);
out:
    bucketcfg_merge_free(&m);
    s3_result_free(&r);
    buf_free(&doc);
}

static int cmd_check(struct sluice_config *c)
{
    struct s3_client *cl;
    struct s3_result r = {0};
    int bad = 0;
    printf("endpoint %s, bucket %s, region %s, prefix '%s', %s-style\n",
           c->s3.endpoint ? c->s3.endpoint : "(AWS)", c->s3.bucket, c->s3.region, c->s3.prefix,
           c->s3.path_style ? "path" : "virtual-hosted");
    if (s3_client_new(&c->s3, &cl))
        return die("%s", "out of memory");
    enum sl_err e = s3_head_bucket(cl, &r);
    if (e) {
        /* a HEAD has no body: ask again with a GET to learn S3's error code */
        struct s3_object *objs = NULL;
        size_t n = 0;
        struct s3_result lr = {0};
        enum sl_err le = s3_list_objects(cl, c->s3.prefix, &objs, &n, &lr);
        s3_objects_free(objs, n);
        explain("bucket reachable with these credentials", le ? le : e, le ? &lr : &r);
        s3_result_free(&lr);
        bad = 1;
        goto out;
    }
    printf("ok   bucket reachable with these credentials\n");
    long skew = r.date ? (long)(time(NULL) - r.date) : 0;
    if (r.date && (skew > 300 || skew < -300)) {
        printf("FAIL clock: this machine is %ld s off the server's (S3 refuses > 900 s)\n", skew);
        bad = 1;
    } else if (r.date) {
        printf("ok   clock within %ld s of the server's\n", skew < 0 ? -skew : skew);
    }
    char key[512];
    snprintf(key, sizeof key, "%scheck/probe-%ld-%d", c->s3.prefix, (long)time(NULL), getpid());
    struct s3_body body = {.length = 5, .mem = "probe"};
    e = s3_put_object(cl, key, &body, NULL, &r);
    if (e) {
        explain("write an object", e, &r);
        bad = 1;
    } else {
        struct buf got = BUF_INIT(64);
        e = s3_get_object(cl, key, NULL, s3_write_to_buf, &got, &r);
        if (e || got.len != 5 || memcmp(got.data, "probe", 5) != 0) {
            explain("read it back", e ? e : SL_ES3_REJECTED, &r);
            bad = 1;
        } else {
            printf("ok   write, read back and delete an object under the prefix\n");
        }
        buf_free(&got);
        bad |= check_signer(c, cl, "s3.signer", c->s3.signer_access_key_id,
                            c->s3.signer_secret_access_key, 1, key);
        bad |= check_signer(c, cl, "s3.part_signer", c->s3.part_signer_access_key_id,
                            c->s3.part_signer_secret_access_key, 0, key);
        switch (honours_unsigned(c, cl)) {
        case 1:
            printf("warn the store applies x-amz-* headers a client adds to a presigned URL "
                   "unsigned (Ceph RGW does; AWS refuses them): what stops a client is the "
                   "signers' policy, so keep s3.signer_* and s3.part_signer_* set\n");
            break;
        case 0:
            printf("ok   the store refuses x-amz-* headers a presigned URL did not sign\n");
            break;
        default:
            printf("warn could not tell whether the store honours unsigned x-amz-* headers\n");
        }
        if ((e = s3_delete_object(cl, key, &r))) {
            explain("delete it", e, &r);
            bad = 1;
        }
    }
    check_part(c, cl, 1);
    check_part(c, cl, 0);
out:
    s3_result_free(&r);
    s3_client_free(cl);
    printf("%s\n", bad ? "check: problems found" : "check: all good");
    return bad;
}

static int cmd_setup_bucket(struct sluice_config *c, int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o, 0))
        return 1;
    char **origins = cors_origins(c);
    if (!origins[0])
        return die("%s", "setup-bucket: set upload.cors_origin (or upload.public_url): the "
                         "browser origins allowed to upload directly");
    struct s3_client *cl;
    if (s3_client_new(&c->s3, &cl))
        return die("%s", "out of memory");
    int rc = setup_part(c, cl, 1, o.force);
    rc |= setup_part(c, cl, 0, o.force);
    s3_client_free(cl);
    return rc;
}

static void print_line(void *ud, const char *line)
{
    (void)ud;
    puts(line);
}

static int cmd_janitor(struct sluice_config *c, int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o, c->janitor.max_age))
        return 1;
    struct s3_client *cl;
    if (s3_client_new(&c->s3, &cl))
        return die("%s", "out of memory");
    struct janitor_report rep;
    struct janitor_opts jo = {.max_age = o.older_than, .reserve_ttl = c->upload.reserve_ttl,
                              .direct_expires = c->upload.direct_expires,
                              .sweep_grace = c->janitor.sweep_grace,
                              .sweep_max = (size_t)c->janitor.sweep_max, .dry_run = o.dry_run,
                              .log = print_line};
    enum sl_err e = janitor_run(cl, c->s3.prefix, &jo, time(NULL), &rep);
    printf("janitor: %zu in progress under '%s', %zu aborted, %zu reservations removed "
           "(%zu uncommitted), %zu kept alive, %zu orphans swept (%zu looked at), %zu failed\n",
           rep.uploads_seen, c->s3.prefix, rep.uploads_aborted, rep.markers_removed,
           rep.orphans_deleted, rep.kept_alive, rep.swept, rep.swept_seen, rep.failed);
    s3_client_free(cl);
    return e || rep.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-c")) {
        cfgpath = argv[i + 1];
        i += 2;
    }
    if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
        fputs(usage, i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    cfgpath = config_path(cfgpath);
    const char *cmd = argv[i];
    if (strcmp(cmd, "presign") && strcmp(cmd, "post-policy") && strcmp(cmd, "check") &&
        strcmp(cmd, "janitor") && strcmp(cmd, "setup-bucket")) {
        fprintf(stderr, "sluicectl: unknown command '%s'\n%s", cmd, usage);
        return 2;
    }
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(4096);
    int rc = 1;
    if (config_load(&c, cfgpath, &why)) {
        fprintf(stderr, "sluicectl: %s\n", buf_str(&why));
        goto out;
    }
    if (s3_global_init()) {
        rc = die("%s", "cannot initialise libcurl");
        goto out;
    }
    xmlInitParser();
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "presign"))
        rc = cmd_presign(&c, sub_argc, sub_argv);
    else if (!strcmp(cmd, "post-policy"))
        rc = cmd_post_policy(&c, sub_argc, sub_argv);
    else if (!strcmp(cmd, "check"))
        rc = cmd_check(&c);
    else if (!strcmp(cmd, "setup-bucket"))
        rc = cmd_setup_bucket(&c, sub_argc, sub_argv);
    else
        rc = cmd_janitor(&c, sub_argc, sub_argv);
    xmlCleanupParser();
    s3_global_cleanup();
out:
    buf_free(&why);
    config_free(&c);
    return rc;
}
