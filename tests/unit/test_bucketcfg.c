/* setup-bucket's merge (ctl/bucketcfg.c): foreign lifecycle and CORS rules survive byte for
 * byte, sluice's rule is added once, a second run changes nothing, --force replaces only
 * sluice's rule; the documents are RGW 16's own answers where it matters (measured). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bucketcfg.h"

#define P(s) s, sizeof s - 1
#define NS "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define CNS "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define MINE_ID "<ID>sluice-abort-incomplete</ID>"
#define CORS_ID "<ID>sluice-direct-upload</ID>"

/* foreign rules as RGW 16 answers them: a V2 filter, an And of a prefix and one tag
 * (flattened), an And of a prefix and two tags (half flattened) */
#define LC_KEEP "<Rule><ID>keep-logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled" \
                "</Status><Expiration><Days>30</Days></Expiration></Rule>"
#define LC_TAG "<Rule><ID>tagged</ID><Filter><Prefix>t/</Prefix><Tag><Key>a</Key><Value>b" \
               "</Value></Tag></Filter><Status>Disabled</Status><Expiration><Days>9</Days>" \
               "</Expiration></Rule>"
#define LC_TAGS "<Rule><ID>x</ID><Filter><Prefix>t/</Prefix><And><Tag><Key>a</Key><Value>b" \
                "</Value></Tag><Tag><Key>c</Key><Value>d</Value></Tag></And></Filter><Status>" \
                "Enabled</Status><Expiration><Days>9</Days></Expiration></Rule>"
/* RGW's answer for a rule PUT with an empty <Filter/>: the V1 form */
#define LC_V1 "<Rule><ID>empty</ID><Prefix></Prefix><Status>Enabled</Status>" \
              "<AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation>" \
              "</AbortIncompleteMultipartUpload></Rule>"
#define LC_MINE(prefix) "<Rule>" MINE_ID "<Filter><Prefix>" prefix "</Prefix></Filter><Status>" \
                        "Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1" \
                        "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"

#define CORS_FOREIGN "<CORSRule><ID>foreign-cors</ID><AllowedMethod>GET</AllowedMethod>" \
                     "<AllowedOrigin>https://app.example</AllowedOrigin><MaxAgeSeconds>60" \
                     "</MaxAgeSeconds></CORSRule>"
#define CORS_ANY_PUT "<CORSRule><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://*." \
                     "example</AllowedOrigin><AllowedHeader>x-a</AllowedHeader><ExposeHeader>" \
                     "x-b</ExposeHeader></CORSRule>"
/* what sluicectl wrote before its rule had an ID */
#define CORS_LEGACY "<CORSRule><AllowedOrigin>http://old.example</AllowedOrigin><AllowedMethod>" \
                    "GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>PUT" \
                    "</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedHeader>*" \
                    "</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000" \
                    "</MaxAgeSeconds></CORSRule>"

static char *origins[] = {"https://up.example", "http://127.0.0.1:8080", NULL};

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* runs the merge of what m produced again, with and without force: nothing more to do */
static void assert_settled_lc(const struct bucketcfg_merge *m, const char *prefix)
{
    for (int force = 0; force < 2; force++) {
        struct bucketcfg_merge again;
        assert_int_equal(bucketcfg_lifecycle(m->doc, m->doc_len, prefix, force, &again), SL_OK);
        assert_int_equal(again.found, BUCKETCFG_CURRENT);
        assert_int_equal(again.changed, 0);
        assert_null(again.doc);
        assert_int_equal(again.n_foreign, m->n_foreign);
        bucketcfg_merge_free(&again);
    }
}

static void assert_settled_cors(const struct bucketcfg_merge *m, char *const *o)
{
    for (int force = 0; force < 2; force++) {
        struct bucketcfg_merge again;
        assert_int_equal(bucketcfg_cors(m->doc, m->doc_len, o, force, &again), SL_OK);
        assert_int_equal(again.found, BUCKETCFG_CURRENT);
        assert_int_equal(again.changed, 0);
        assert_null(again.doc);
        assert_int_equal(again.n_foreign, m->n_foreign);
        bucketcfg_merge_free(&again);
    }
}

static void test_lifecycle_none(void **state)
{
    (void)state;
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_lifecycle(NULL, 0, "sluice/", 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_ABSENT);
    assert_null(m.mine);
    assert_int_equal(m.changed, 1);
    assert_int_equal(m.n_foreign, 0);
    assert_non_null(strstr(m.doc, NS LC_MINE("sluice/") "</LifecycleConfiguration>"));
    assert_int_equal(strlen(m.doc), m.doc_len);
    assert_settled_lc(&m, "sluice/");
    bucketcfg_merge_free(&m);
}

static void test_lifecycle_keeps_foreign(void **state)
{
    (void)state;
    static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" NS LC_KEEP LC_TAG
                              LC_TAGS "</LifecycleConfiguration>";
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_lifecycle(P(doc), "p/", 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_ABSENT);
    assert_int_equal(m.changed, 1);
    /* the foreign rules, unchanged and in their order, then sluice's once */
    assert_non_null(strstr(m.doc, NS LC_KEEP LC_TAG LC_TAGS LC_MINE("p/") "</Lifecycle"));
    assert_int_equal(count(m.doc, MINE_ID), 1);
    assert_int_equal(m.n_foreign, 3);
    assert_string_equal(m.foreign[0].line, "'keep-logs': Enabled, prefix 'logs/', "
                                           "Expiration (30 days)");
    assert_string_equal(m.foreign[1].line, "'tagged': Disabled, prefix 't/' and 1 filter "
                                           "condition, Expiration (9 days)");
    assert_string_equal(m.foreign[2].line, "'x': Enabled, prefix 't/' and 2 filter conditions, "
                                           "Expiration (9 days)");
    assert_settled_lc(&m, "p/");
    bucketcfg_merge_free(&m);
}

static void test_lifecycle_force_replaces_only_mine(void **state)
{
    (void)state;
    static const char doc[] = NS LC_KEEP LC_MINE("old/") LC_TAG "</LifecycleConfiguration>";
    struct bucketcfg_merge m;
    /* without force: told, nothing changes */
    assert_int_equal(bucketcfg_lifecycle(P(doc), "new/", 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_STALE);
    assert_string_equal(m.mine, "'sluice-abort-incomplete': Enabled, prefix 'old/', "
                                "AbortIncompleteMultipartUpload (1 days)");
    assert_int_equal(m.changed, 0);
    assert_null(m.doc);
    assert_int_equal(m.n_foreign, 2);
    bucketcfg_merge_free(&m);
    /* with force: sluice's rule in its place, the others as they were */
    assert_int_equal(bucketcfg_lifecycle(P(doc), "new/", 1, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_STALE);
    assert_int_equal(m.changed, 1);
    assert_non_null(strstr(m.doc, NS LC_KEEP LC_MINE("new/") LC_TAG "</Lifecycle"));
    assert_int_equal(count(m.doc, MINE_ID), 1);
    assert_null(strstr(m.doc, "old/"));
    assert_settled_lc(&m, "new/");
    bucketcfg_merge_free(&m);
    /* already current: force has nothing to do either */
    static const char cur[] = NS LC_KEEP LC_MINE("new/") "</LifecycleConfiguration>";
    assert_int_equal(bucketcfg_lifecycle(P(cur), "new/", 1, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_CURRENT);
    assert_int_equal(m.changed, 0);
    bucketcfg_merge_free(&m);
}

/* What makes sluice's rule stale, and the forms of it that are current */
static void test_lifecycle_forms(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        enum bucketcfg_state want;
    } cases[] = {
        {LC_MINE("p/"), BUCKETCFG_CURRENT},
        {"<Rule>" MINE_ID "<Prefix>p/</Prefix><Status>Enabled</Status><AbortIncompleteMultipart"
         "Upload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
         "</Rule>", BUCKETCFG_CURRENT},
        {"<Rule><Status>Enabled</Status><Filter><And><Prefix>p/</Prefix></And></Filter>" MINE_ID
         "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
         "</AbortIncompleteMultipartUpload></Rule>", BUCKETCFG_CURRENT},
        {"<Rule>" MINE_ID "<Filter><Prefix>p/</Prefix><Tag><Key>a</Key><Value>b</Value></Tag>"
         "</Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>"
         "1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", BUCKETCFG_STALE},
        {"<Rule>" MINE_ID "<Filter><Prefix>p/</Prefix></Filter><Status>Disabled</Status>"
         "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
         "</AbortIncompleteMultipartUpload></Rule>", BUCKETCFG_STALE},
        {"<Rule>" MINE_ID "<Filter><Prefix>p/</Prefix></Filter><Status>Enabled</Status>"
         "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
         "</AbortIncompleteMultipartUpload></Rule>", BUCKETCFG_STALE},
        {"<Rule>" MINE_ID "<Filter><Prefix>p/</Prefix></Filter><Status>Enabled</Status>"
         "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
         "</AbortIncompleteMultipartUpload><Expiration><Days>1</Days></Expiration></Rule>",
         BUCKETCFG_STALE},
        {"<Rule>" MINE_ID "<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload>"
         "<DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
         BUCKETCFG_STALE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[2048];
        snprintf(doc, sizeof doc, "%s%s%s", NS, cases[i].rule, "</LifecycleConfiguration>");
        struct bucketcfg_merge m;
        assert_int_equal(bucketcfg_lifecycle(doc, strlen(doc), "p/", 0, &m), SL_OK);
        if (m.found != cases[i].want)
            fail_msg("case %zu: state %d, want %d", i, m.found, cases[i].want);
        assert_int_equal(m.changed, 0);
        assert_int_equal(m.n_foreign, 0);
        bucketcfg_merge_free(&m);
    }
}

/* a rule-level <Prefix> elsewhere (RGW's answer for an empty filter): AWS refuses a mix of
 * the two forms, so sluice's rule takes the same one */
static void test_lifecycle_v1_document(void **state)
{
    (void)state;
    static const char doc[] = NS LC_V1 "</LifecycleConfiguration>";
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_lifecycle(P(doc), "p/", 0, &m), SL_OK);
    assert_int_equal(m.changed, 1);
    assert_non_null(strstr(m.doc, LC_V1 "<Rule>" MINE_ID "<Prefix>p/</Prefix><Status>"));
    assert_null(strstr(m.doc, "<Filter>"));
    assert_string_equal(m.foreign[0].line, "'empty': Enabled, prefix '', "
                                           "AbortIncompleteMultipartUpload (3 days)");
    assert_settled_lc(&m, "p/");
    bucketcfg_merge_free(&m);
}

/* values are escaped on the way out and read back the same */
static void test_lifecycle_escaping(void **state)
{
    (void)state;
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_lifecycle(NULL, 0, "a&b<c>/", 0, &m), SL_OK);
    assert_non_null(strstr(m.doc, "<Prefix>a&amp;b&lt;c&gt;/</Prefix>"));
    assert_settled_lc(&m, "a&b<c>/");
    bucketcfg_merge_free(&m);
}

static void test_cors_keeps_foreign(void **state)
{
    (void)state;
    static const char doc[] = CNS CORS_FOREIGN CORS_ANY_PUT "</CORSConfiguration>";
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_cors(P(doc), origins, 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_ABSENT);
    assert_int_equal(m.changed, 1);
    assert_non_null(strstr(m.doc, CNS CORS_FOREIGN CORS_ANY_PUT "<CORSRule>" CORS_ID
                                  "<AllowedOrigin>https://up.example</AllowedOrigin>"
                                  "<AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin>"
                                  "<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD"
                                  "</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
                                  "<AllowedMethod>POST</AllowedMethod><AllowedHeader>*"
                                  "</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
                                  "<MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>"
                                  "</CORSConfiguration>"));
    assert_int_equal(count(m.doc, CORS_ID), 1);
    assert_int_equal(m.n_foreign, 2);
    assert_string_equal(m.foreign[0].line, "'foreign-cors': origins https://app.example; "
                                           "methods GET");
    assert_int_equal(m.foreign[0].shadows, 0);   /* GET only: sluice's answers PUT */
    assert_string_equal(m.foreign[1].line, "(no ID): origins https://*.example; methods PUT; "
                                           "exposes x-b");
    assert_int_equal(m.foreign[1].shadows, 1);   /* PUT from https://up.example is its */
    assert_settled_cors(&m, origins);
    bucketcfg_merge_free(&m);
}

static void test_cors_force_replaces_only_mine(void **state)
{
    (void)state;
    /* sluice's rule from another origin list, then a second copy of it (the legacy one) */
    static const char doc[] = CNS "<CORSRule>" CORS_ID "<AllowedOrigin>https://gone.example"
                              "</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>"
                              "HEAD</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
                              "<AllowedMethod>POST</AllowedMethod><AllowedHeader>*"
                              "</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>"
                              "3000</MaxAgeSeconds></CORSRule>" CORS_FOREIGN CORS_LEGACY
                              "</CORSConfiguration>";
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_cors(P(doc), origins, 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_STALE);
    assert_int_equal(m.changed, 0);
    assert_int_equal(m.n_foreign, 1);
    assert_int_equal(m.foreign[0].shadows, 0);
    bucketcfg_merge_free(&m);
    assert_int_equal(bucketcfg_cors(P(doc), origins, 1, &m), SL_OK);
    assert_int_equal(m.changed, 1);
    assert_non_null(strstr(m.doc, CNS "<CORSRule>" CORS_ID
                                  "<AllowedOrigin>https://up.example</AllowedOrigin>"));
    assert_non_null(strstr(m.doc, "</CORSRule>" CORS_FOREIGN "</CORSConfiguration>"));
    assert_int_equal(count(m.doc, "<CORSRule>"), 2);
    assert_null(strstr(m.doc, "gone.example"));
    assert_null(strstr(m.doc, "old.example"));
    assert_settled_cors(&m, origins);
    bucketcfg_merge_free(&m);
}

/* the rule an older sluicectl wrote (no ID) is sluice's: found, left without force, tagged
 * with force; a foreign rule of another shape without an ID is not */
static void test_cors_legacy(void **state)
{
    (void)state;
    static char *old[] = {"http://old.example", NULL};
    static const char doc[] = "<CORSConfiguration>" CORS_LEGACY "</CORSConfiguration>";
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_cors(P(doc), old, 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_STALE);
    assert_string_equal(m.mine, "(no ID): origins http://old.example; methods GET HEAD PUT POST;"
                                " exposes ETag");
    assert_int_equal(m.changed, 0);
    assert_int_equal(m.n_foreign, 0);
    bucketcfg_merge_free(&m);
    assert_int_equal(bucketcfg_cors(P(doc), old, 1, &m), SL_OK);
    assert_int_equal(m.changed, 1);
    /* a document without S3's namespace stays without it */
    assert_non_null(strstr(m.doc, "<CORSConfiguration><CORSRule>" CORS_ID
                                  "<AllowedOrigin>http://old.example</AllowedOrigin>"));
    assert_int_equal(count(m.doc, "<CORSRule>"), 1);
    assert_settled_cors(&m, old);
    bucketcfg_merge_free(&m);
    static const char other[] = "<CORSConfiguration><CORSRule><AllowedOrigin>http://old.example"
                                "</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>"
                                "*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>"
                                "3000</MaxAgeSeconds></CORSRule></CORSConfiguration>";
    assert_int_equal(bucketcfg_cors(P(other), old, 0, &m), SL_OK);
    assert_int_equal(m.found, BUCKETCFG_ABSENT);
    assert_int_equal(m.n_foreign, 1);
    assert_int_equal(count(m.doc, "<CORSRule>"), 2);
    bucketcfg_merge_free(&m);
}

/* S3's answer is untrusted: anything that is not the expected document is refused whole */
static void test_refused(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "not xml", "<LifecycleConfiguration>", "<CORSConfiguration></CORSConfiguration>",
        "<?xml version=\"1.0\"?><!DOCTYPE LifecycleConfiguration [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><LifecycleConfiguration><Rule><ID>&x;</ID></Rule>"
        "</LifecycleConfiguration>",
        "<!DOCTYPE l [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
        "<LifecycleConfiguration><Rule><ID>&b;</ID></Rule></LifecycleConfiguration>",
        "<LifecycleConfiguration><Rule><ID>&x;</ID></Rule></LifecycleConfiguration>",
        "<LifecycleConfiguration/><LifecycleConfiguration/>",
    };
    struct bucketcfg_merge m;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        if (bucketcfg_lifecycle(docs[i], strlen(docs[i]), "p/", 1, &m) != SL_EBADREQ)
            fail_msg("case %zu accepted", i);
        assert_null(m.doc);
        assert_int_equal(m.n_foreign, 0);
        bucketcfg_merge_free(&m);
    }
    assert_int_equal(bucketcfg_cors(P(NS "</LifecycleConfiguration>"), origins, 0, &m),
                     SL_EBADREQ);
    static char *none[] = {NULL};
    assert_int_equal(bucketcfg_cors(NULL, 0, none, 0, &m), SL_ECONFIG);
    bucketcfg_merge_free(&m);
}

/* a rule's line is printable and bounded whatever its ID holds */
static void test_lines(void **state)
{
    (void)state;
    char doc[4096], id[600];
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(doc, sizeof doc, "<LifecycleConfiguration><Rule><ID>a&#9;b&#10;c&#127;d</ID><Status>"
             "Enabled</Status><Filter/></Rule><Rule><ID>%s</ID></Rule></LifecycleConfiguration>",
             id);
    struct bucketcfg_merge m;
    assert_int_equal(bucketcfg_lifecycle(doc, strlen(doc), "p/", 0, &m), SL_OK);
    assert_int_equal(m.n_foreign, 2);
    assert_string_equal(m.foreign[0].line, "'a?b?c?d': Enabled, the whole bucket");
    assert_true(strlen(m.foreign[1].line) < 200);
    assert_non_null(strstr(m.foreign[1].line, "iii...': no status"));
    bucketcfg_merge_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_none),
        cmocka_unit_test(test_lifecycle_keeps_foreign),
        cmocka_unit_test(test_lifecycle_force_replaces_only_mine),
        cmocka_unit_test(test_lifecycle_forms),
        cmocka_unit_test(test_lifecycle_v1_document),
        cmocka_unit_test(test_lifecycle_escaping),
        cmocka_unit_test(test_cors_keeps_foreign),
        cmocka_unit_test(test_cors_force_replaces_only_mine),
        cmocka_unit_test(test_cors_legacy),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
