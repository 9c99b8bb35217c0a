/* sluice.conf parsing: values, units, and one clear error line for every kind of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tmpdir.h"

static void test_full_file(void **state)
{
    (void)state;
    static const char text[] =
        "# sluice\n"
        "[s3]\n"
        "endpoint = http://127.0.0.1:7480\n"
        "bucket = \"drops\"\n"
        "access_key_id = AK\n"
        "secret_access_key = 'se/cr+et'\n"
        "addressing = virtual\n"
        "verify_tls = no\n"
        "stall_timeout = 2m\n"
        "max_retries = 3\n"
        "\n"
        "  [ upload ]  \n"
        "; comment\n"
        "max_size = 2G\n"
        "buffer_cap = 16MiB\n"
        "part_size = 5M\n"
        "token = a, b\n"
        "token = c\n"
        "idle_timeout = 45\n"
        "slot_dir = /run/sluice/slots\n"
        "[janitor]\n"
        "max_age = 6h\n"
        "sweep_grace = 2h\n"
        "sweep_max = 50\n";
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t.conf", text, &why), SL_OK);
    assert_string_equal(c.s3.endpoint, "http://127.0.0.1:7480");
    assert_string_equal(c.s3.bucket, "drops");
    assert_string_equal(c.s3.secret_access_key, "se/cr+et");
    assert_int_equal(c.s3.path_style, 0);
    assert_int_equal(c.s3.verify_tls, 0);
    assert_int_equal(c.s3.stall_timeout, 120);
    assert_int_equal(c.s3.max_retries, 3);
    assert_int_equal(c.upload.max_size, 2ull << 30);
    assert_int_equal(c.upload.buffer_cap, 16u << 20);
    assert_int_equal(c.upload.part_size, 5u << 20);
    assert_int_equal(c.upload.idle_timeout, 45);
    assert_int_equal(c.janitor.max_age, 6 * 3600);
    assert_int_equal(c.janitor.sweep_grace, 2 * 3600);
    assert_int_equal(c.janitor.sweep_max, 50);
    assert_string_equal(c.upload.tokens[0], "a");
    assert_string_equal(c.upload.tokens[1], "b");
    assert_string_equal(c.upload.tokens[2], "c");
    assert_null(c.upload.tokens[3]);
    assert_int_equal(config_validate(&c, &why), SL_OK);
    assert_int_equal(config_validate_upload(&c, &why), SL_OK);
    config_free(&c);
    buf_free(&why);
}

struct bad {
    const char *text;
    const char *why;
};

static void test_bad_files(void **state)
{
    (void)state;
    static const struct bad t[] = {
        {"[s3]\nbucket = b\nfoo = 1\n", "t.conf:3: unknown key 'foo' in [s3]"},
        {"[nope]\n", "t.conf:1: unknown section [nope]"},
        {"[s3\n", "t.conf:1: malformed section header"},
        {"bucket = b\n", "t.conf:1: 'bucket' is outside any [section]"},
        {"[s3]\njust words\n", "t.conf:2: expected 'key = value'"},
        {"[s3]\nverify_tls = maybe\n",
         "t.conf:2: s3.verify_tls: expected true or false (got 'maybe')"},
        {"[s3]\naddressing = dns\n", "t.conf:2: s3.addressing: expected path or virtual (got 'dns')"},
        {"[upload]\nmax_size = 12X\n",
         "t.conf:2: upload.max_size: expected a size such as 512K, 64M or 5G (got '12X')"},
        {"[upload]\nmax_size = 6T\n", "t.conf:2: upload.max_size: out of range (got '6T')"},
        {"[upload]\npart_size = 1M\n", "t.conf:2: upload.part_size: out of range (got '1M')"},
        {"[upload]\nslots = 0\n", "t.conf:2: upload.slots: out of range (got '0')"},
        {"[upload]\nslots = 3x\n", "t.conf:2: upload.slots: expected a whole number (got '3x')"},
        {"[upload]\nidle_timeout = soon\n",
         "t.conf:2: upload.idle_timeout: expected a duration such as 30s, 15m, 2h or 7d (got 'soon')"},
        {"[s3]\nmax_retries = 99999999999999999999\n",
         "t.conf:2: s3.max_retries: expected a whole number (got '99999999999999999999')"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sluice_config c;
        config_defaults(&c);
        struct buf why = BUF_INIT(1024);
        assert_int_equal(config_parse(&c, "t.conf", t[i].text, &why), SL_ECONFIG);
        assert_string_equal(buf_str(&why), t[i].why);
        config_free(&c);
        buf_free(&why);
    }
}

/* '#' and ';' after whitespace end a value, for every kind of key; inside quotes and glued to
 * a value they are data */
static void test_inline_comments(void **state)
{
    (void)state;
    static const char text[] =
        "[s3]   # the S3 side\n"
        "endpoint = http://127.0.0.1:7480   # omit for AWS\n"
        "bucket = drops;x ; the ';' glued to the value is part of it\n"
        "prefix = sluice/   # sluice only ever touches keys under this prefix\n"
        "addressing = path   # or virtual\n"
        "verify_tls = false\t; tab before the comment\n"
        "access_key_id = \"AK # not a comment\"   # but this is\n"
        "secret_access_key = 'se;cret'\n"
        "session_token = a#b\n"
        "max_retries = 3 # retries\n"
        "[upload]\n"
        "token = t1, t2   # two tokens\n"
        "token = \"t3\" ; quoted, then a comment\n"
        "part_size = 5M # parts\n"
        "slot_dir =   # empty: the comment is not the value\n";
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t.conf", text, &why), SL_OK);
    assert_string_equal(c.s3.endpoint, "http://127.0.0.1:7480");
    assert_string_equal(c.s3.bucket, "drops;x");
    assert_string_equal(c.s3.prefix, "sluice/");
    assert_int_equal(c.s3.path_style, 1);
    assert_int_equal(c.s3.verify_tls, 0);
    assert_string_equal(c.s3.access_key_id, "AK # not a comment");
    assert_string_equal(c.s3.secret_access_key, "se;cret");
    assert_string_equal(c.s3.session_token, "a#b");
    assert_int_equal(c.s3.max_retries, 3);
    assert_string_equal(c.upload.tokens[0], "t1");
    assert_string_equal(c.upload.tokens[1], "t2");
    assert_string_equal(c.upload.tokens[2], "t3");
    assert_null(c.upload.tokens[3]);
    assert_int_equal(c.upload.part_size, 5u << 20);
    assert_string_equal(c.upload.slot_dir, "");
    config_free(&c);
    buf_free(&why);

    static const struct bad t[] = {
        {"[s3]\nprefix = \"sluice/   # no closing quote\n",
         "t.conf:2: s3.prefix: unterminated quoted value"},
        {"[s3]\nprefix = \"a\" b\n", "t.conf:2: s3.prefix: text after the quoted value"},
        {"[s3]\naddressing = virtual # fine\nmax_retries = 3 4 # not fine\n",
         "t.conf:3: s3.max_retries: expected a whole number (got '3 4')"},
        {"[s3] junk\n", "t.conf:1: malformed section header"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        config_defaults(&c);
        assert_int_equal(config_parse(&c, "t.conf", t[i].text, &why), SL_ECONFIG);
        assert_string_equal(buf_str(&why), t[i].why);
        config_free(&c);
        buf_reset(&why);
    }
    buf_free(&why);
}

/* the file as bytes: a NUL or another control byte anywhere is an error naming its line (a C
 * string would stop at the NUL and silently drop the rest of the file) */
static void test_control_bytes(void **state)
{
    (void)state;
    static const struct { const char *text; size_t len; const char *why; } t[] = {
#define T(s, w) {s, sizeof s - 1, w}
        T("[s3]\nbucket = b\0\n[nope]\n", "NUL byte in line"),
        T("[s3]\nbucket = b\n\0", "NUL byte in line"),
        T("[s3]\nbucket = b\x01" "c\n", "control byte 0x01 in line"),
        T("[s3]\nbucket = b\rregion = r\n", "control byte 0x0d in line"),
        T("[s3]\nbucket = b\x1b[0m\n", "control byte 0x1b in line"),
        T("[s3]\nbucket = b\x7f\n", "control byte 0x7f in line"),
#undef T
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char path[128], want[160];
        snprintf(path, sizeof path, "%s/ctl.conf", dir);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(t[i].text, 1, t[i].len, f), t[i].len);
        fclose(f);
        struct sluice_config c;
        config_defaults(&c);
        struct buf why = BUF_INIT(1024);
        assert_int_equal(config_load(&c, path, &why), SL_ECONFIG);
        snprintf(want, sizeof want, "%s:%d: %s", path, i == 1 ? 3 : 2, t[i].why);
        assert_string_equal(buf_str(&why), want);
        config_free(&c);
        buf_free(&why);
    }
    /* tab, CR LF line ends and UTF-8 are fine */
    static const char ok[] = "[s3]\r\nbucket =\tb\r\nprefix = caf\xc3\xa9/\r\n";
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t.conf", ok, &why), SL_OK);
    assert_string_equal(c.s3.bucket, "b");
    assert_string_equal(c.s3.prefix, "caf\xc3\xa9/");
    config_free(&c);
    buf_free(&why);
}

/* The README's example sluice.conf (its ```ini block), read from README.md at test time and
 * parsed by the real parser: the documentation cannot drift from what sluice accepts. */
static void test_readme_example(void **state)
{
    (void)state;
    FILE *f = fopen(TEST_DATA_DIR "/../../README.md", "rb");
    assert_non_null(f);
    struct buf md = BUF_INIT(1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        assert_int_equal(buf_append(&md, tmp, n), SL_OK);
    fclose(f);
    const char *open = strstr(buf_str(&md), "\n```ini\n");
    assert_non_null(open);   /* the README lost its example config */
    const char *start = open + strlen("\n```ini\n");
    const char *close = strstr(start, "\n```");
    assert_non_null(close);
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    if (config_parse_mem(&c, "README.md's sluice.conf", start, (size_t)(close - start) + 1,
                         &why))
        fail_msg("%s", buf_str(&why));
    /* values with a comment after them, of each kind: string, enum, duration, int, list */
    assert_string_equal(c.s3.endpoint, "http://127.0.0.1:7480");
    assert_string_equal(c.s3.prefix, "sluice/");
    assert_int_equal(c.s3.path_style, 1);
    assert_int_equal(c.s3.stall_timeout, 30);
    assert_int_equal(c.upload.slots, 8);
    assert_string_equal(c.upload.slot_dir, "/run/sluice/slots");
    assert_string_equal(c.upload.tokens[0], "change-me");
    assert_null(c.upload.tokens[1]);
    assert_string_equal(c.upload.cors_origins[0], "https://drops.example.com");
    assert_null(c.upload.cors_origins[1]);
    assert_int_equal(c.server.threads, 16);
    assert_string_equal(c.server.metrics_token, "change-me-too");
    assert_int_equal(c.thumbs.webp, 0);
    /* and it is a configuration a worker starts with (credentials come from the environment) */
    c.s3.access_key_id = strdup("AK");
    c.s3.secret_access_key = strdup("SK");
    if (config_validate(&c, &why) || config_validate_upload(&c, &why))
        fail_msg("%s", buf_str(&why));
    config_free(&c);
    buf_free(&why);
    buf_free(&md);
}

static void test_long_line(void **state)
{
    (void)state;
    char *text = malloc(10000);
    memcpy(text, "[s3]\nbucket = ", 14);
    memset(text + 14, 'a', 9000);
    text[9014] = '\0';
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t.conf", text, &why), SL_ECONFIG);
    assert_string_equal(buf_str(&why), "t.conf:2: line too long (max 4096 bytes)");
    config_free(&c);
    buf_free(&why);
    free(text);
}

static void test_env_fills_gaps_file_wins(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1234", 1);
    setenv("S3_BUCKET", "envbucket", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_ENDPOINT_URL_S3");
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t", "[s3]\nbucket = filebucket\n", &why), SL_OK);
    assert_int_equal(config_from_env(&c, &why), SL_OK);
    assert_string_equal(c.s3.bucket, "filebucket");
    assert_string_equal(c.s3.access_key_id, "ENVKEY");
    assert_string_equal(c.s3.endpoint, "http://127.0.0.1:1234");
    assert_string_equal(c.s3.region, "eu-west-1");
    assert_null(c.s3.session_token);
    assert_int_equal(config_validate(&c, &why), SL_OK);
    config_free(&c);
    buf_free(&why);
}

static void test_validate(void **state)
{
    (void)state;
    static const struct { const char *text, *why; } t[] = {
        {"[s3]\naccess_key_id=a\nsecret_access_key=b\nregion=r\n",
         "no bucket: set 'bucket' in [s3] or S3_BUCKET"},
        {"[s3]\nbucket=b\nregion=r\n",
         "missing credentials: set access_key_id and secret_access_key in [s3], or "
         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
        {"[s3]\nbucket=b\naccess_key_id=a\nsecret_access_key=b\nendpoint=ftp://x\n",
         "s3.endpoint: not an http(s)://host[:port] URL: 'ftp://x'"},
        {"[s3]\nbucket=a/b\naccess_key_id=a\nsecret_access_key=b\nregion=r\n",
         "s3.bucket: not a bucket name: 'a/b'"},
        {"[s3]\nbucket=b\naccess_key_id=a\nsecret_access_key=b\nregion=r\n"
         "[upload]\nbuffer_cap=8M\npart_size=10M\n",
         "upload.part_size (10485760) must not exceed upload.buffer_cap (8388608)"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sluice_config c;
        config_defaults(&c);
        struct buf why = BUF_INIT(1024);
        assert_int_equal(config_parse(&c, "t", t[i].text, &why), SL_OK);
        assert_int_equal(config_validate(&c, &why), SL_ECONFIG);
        assert_string_equal(buf_str(&why), t[i].why);
        config_free(&c);
        buf_free(&why);
    }
    static const struct { const char *text, *why; } up[] = {
        {"[upload]\nslot_dir=/x\n",
         "uploads need a token: add 'token = ...' to [upload], a [token NAME] section, or set "
         "'anonymous = true'"},
        {"[upload]\nslot_dir=/x\n[token a]\nmax_size=1M\n", "[token a]: no secret"},
        {"[upload]\nslot_dir=/x\nmax_size=1M\n[token a]\nsecret=s\nmax_size=2M\n",
         "[token a]: max_size is above upload.max_size"},
        {"[upload]\nslot_dir=/x\nslots=2\n[token a]\nsecret=s\nslots=3\n",
         "[token a]: slots (3) is above upload.slots (2)"},
        {"[upload]\nslot_dir=/x\ntoken=s\n[token a]\nsecret=s\n",
         "[token a]: a secret is also another token's"},
        {"[upload]\nslot_dir=/x\n[token a]\nsecret=s\n[token b]\nsecret=t, s\n",
         "[token a]: a secret is also another token's"},
        {"[upload]\nanonymous=yes\nslot_dir=/x\nmax_size=0\n",
         "upload.max_size must be at least 1 byte"},
        {"[upload]\nanonymous=yes\nslot_dir=/x\nslots=16\n[server]\nthreads=16\n",
         "upload.slots (16) must be below server.threads (16), so pages and 503 answers are "
         "served while every slot is busy"},
        {"[upload]\nanonymous=yes\n", "upload.slot_dir is not set (e.g. /run/sluice/slots)"},
    };
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        struct sluice_config c;
        config_defaults(&c);
        struct buf why = BUF_INIT(1024);
        assert_int_equal(config_parse(&c, "t", up[i].text, &why), SL_OK);
        assert_int_equal(config_validate_upload(&c, &why), SL_ECONFIG);
        assert_string_equal(buf_str(&why), up[i].why);
        config_free(&c);
        buf_free(&why);
    }
}

/* [token NAME] sections: their own secrets and limits; 0 means "the [upload] default" */
static void test_named_tokens(void **state)
{
    (void)state;
    static const char text[] =
        "[upload]\nslot_dir=/x\ntoken=legacy\nslots=4\nreservations=50\n"
        "token_reservations=7\n"
        "[token alice]\nsecret = s-alice-1\nsecret = s-alice-2\nmax_size = 1M\nslots = 1\n"
        "reservations = 3\n"
        "[ token bob ]\nsecret = s-bob\n";
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_parse(&c, "t", text, &why), SL_OK);
    assert_int_equal(config_validate_upload(&c, &why), SL_OK);
    assert_int_equal(c.ntokens, 2);
    assert_string_equal(c.tokens[0].name, "alice");
    assert_string_equal(c.tokens[0].secrets[0], "s-alice-1");
    assert_string_equal(c.tokens[0].secrets[1], "s-alice-2");
    assert_null(c.tokens[0].secrets[2]);
    assert_int_equal(c.tokens[0].max_size, 1 << 20);
    assert_int_equal(c.tokens[0].slots, 1);
    assert_int_equal(c.tokens[0].reservations, 3);
    assert_string_equal(c.tokens[1].name, "bob");
    assert_int_equal(c.tokens[1].max_size, 0);
    assert_int_equal(c.tokens[1].slots, 0);
    assert_int_equal(c.upload.reservations, 50);
    assert_int_equal(c.upload.token_reservations, 7);
    assert_string_equal(c.upload.tokens[0], "legacy");
    config_free(&c);
    static const struct bad bad[] = {
        {"[token]\n", "t:1: unknown section [token]"},
        {"[token a.b]\n", "t:1: [token]: a name is 1 to 32 of A-Z a-z 0-9 _ -"},
        {"[token default]\n", "t:1: [token]: 'default' and 'anonymous' are the names of "
                               "[upload]'s tokens"},
        {"[token a]\n[token a]\n", "t:2: [token]: a second section of the same name"},
        {"[token a]\ntoken = x\n", "t:2: unknown key 'token' in [token]"},
        {"[token a]\nslots = 0\n", "t:2: token.slots: out of range (got '0')"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_defaults(&c);
        buf_reset(&why);
        assert_int_equal(config_parse(&c, "t", bad[i].text, &why), SL_ECONFIG);
        assert_string_equal(buf_str(&why), bad[i].why);
        config_free(&c);
    }
    buf_free(&why);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(1024);
    assert_int_equal(config_load(&c, "/nonexistent/sluice.conf", &why), SL_ECONFIG);
    assert_string_equal(buf_str(&why),
                        "/nonexistent/sluice.conf: cannot open: No such file or directory");
    config_free(&c);
    buf_free(&why);
}

/* path of a file in the test's folder holding text */
static const char *write_conf(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    return path;
}

static void clear_s3_env(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
                                       "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_BUCKET"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

/* AWS (no endpoint) needs its region; an S3-compatible endpoint gets us-east-1 by default */
static void test_load_region(void **state)
{
    (void)state;
    clear_s3_env();
    struct sluice_config c;
    struct buf why = BUF_INIT(1024);
    config_defaults(&c);
    const char *p = write_conf("aws.conf", "[s3]\nbucket = b\naccess_key_id = a\n"
                                           "secret_access_key = s\n");
    assert_int_equal(config_load(&c, p, &why), SL_ECONFIG);
    assert_string_equal(buf_str(&why), "no endpoint and no region: set one in [s3] or AWS_REGION");
    config_free(&c);
    buf_reset(&why);

    setenv("AWS_REGION", "eu-west-3", 1);
    config_defaults(&c);
    assert_int_equal(config_load(&c, p, &why), SL_OK);
    assert_string_equal(c.s3.region, "eu-west-3");
    assert_null(c.s3.endpoint);
    config_free(&c);
    unsetenv("AWS_REGION");

    config_defaults(&c);
    p = write_conf("rgw.conf", "[s3]\nendpoint = http://127.0.0.1:7480\nbucket = b\n"
                               "access_key_id = a\nsecret_access_key = s\n");
    assert_int_equal(config_load(&c, p, &why), SL_OK);
    assert_string_equal(c.s3.region, "us-east-1");
    assert_string_equal(c.s3.prefix, "sluice/");
    config_free(&c);
    buf_free(&why);
}

/* command-line settings are applied before the one validation, through the same table as the
 * file (so -t is range-checked, and cannot break upload.slots < server.threads) */
static void test_load_overrides(void **state)
{
    (void)state;
    clear_s3_env();
    const char *p = write_conf("ov.conf",
                               "[s3]\nendpoint = http://127.0.0.1:7480\nbucket = b\n"
                               "access_key_id = a\nsecret_access_key = s\n"
                               "[upload]\nslots = 8\nslot_dir = /x\nanonymous = yes\n"
                               "[server]\nthreads = 16\n");
    struct sluice_config c;
    struct buf why = BUF_INIT(1024);

    const struct config_override ok[] = {{"-t", "server.threads", "12"},
                                         {"-s", "server.socket", "127.0.0.1:9000"}};
    config_defaults(&c);
    assert_int_equal(config_load_with(&c, p, ok, 2, &why), SL_OK);
    assert_int_equal(config_validate_upload(&c, &why), SL_OK);
    assert_int_equal(c.server.threads, 12);   /* the flag wins over the file */
    assert_string_equal(c.server.socket, "127.0.0.1:9000");
    config_free(&c);

    static const struct { struct config_override ov; const char *why; } t[] = {
        {{"-t", "server.threads", "4"},
         "upload.slots (8) must be below server.threads (4), so pages and 503 answers are "
         "served while every slot is busy"},
        {{"-t", "server.threads", "0"}, "-t: server.threads: out of range (got '0')"},
        {{"-t", "server.threads", "many"},
         "-t: server.threads: expected a whole number (got 'many')"},
        {{"-x", "server.nope", "1"}, "-x: unknown setting 'server.nope'"},
        {{"-x", "threads", "1"}, "-x: unknown setting 'threads'"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        config_defaults(&c);
        buf_reset(&why);
        enum sl_err e = config_load_with(&c, p, &t[i].ov, 1, &why);
        if (!e)
            e = config_validate_upload(&c, &why);
        assert_int_equal(e, SL_ECONFIG);
        assert_string_equal(buf_str(&why), t[i].why);
        config_free(&c);
    }
    buf_free(&why);
}

static void test_units(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } sizes[] = {
        {"0", 0}, {"512", 512}, {"4K", 4096}, {"5M", 5u << 20}, {"5MiB", 5u << 20},
        {"5MB", 5u << 20}, {"1g", 1u << 30}, {"2T", 2ull << 40},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v;
        assert_int_equal(config_parse_size(sizes[i].s, &v), SL_OK);
        assert_int_equal(v, sizes[i].v);
    }
    static const char *const bad_sizes[] = {"", "-1", "M", "5 M", "5MM", "99999999999999999T"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        uint64_t v;
        assert_int_equal(config_parse_size(bad_sizes[i], &v), SL_ECONFIG);
    }
    static const struct { const char *s; long v; } durs[] = {
        {"0s", 0}, {"45", 45}, {"30s", 30}, {"15m", 900}, {"2h", 7200}, {"7d", 604800},
    };
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        long v;
        assert_int_equal(config_parse_duration(durs[i].s, &v), SL_OK);
        assert_int_equal(v, durs[i].v);
    }
    static const char *const bad_durs[] = {"", "s", "1w", "-5s", "5 s", "999999999999d"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        long v;
        assert_int_equal(config_parse_duration(bad_durs[i], &v), SL_ECONFIG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_inline_comments),
        cmocka_unit_test_setup_teardown(test_control_bytes, setup, teardown),
        cmocka_unit_test(test_readme_example),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_env_fills_gaps_file_wins),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_named_tokens),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test_setup_teardown(test_load_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_overrides, setup, teardown),
        cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
