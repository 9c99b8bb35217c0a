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
         "uploads need a token: add 'token = ...' to [upload] or set 'anonymous = true'"},
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
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_env_fills_gaps_file_wins),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
