/* The small XML reader used on S3's answers, and the JSON string writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "json.h"
#include "xml.h"

static void test_error_document(void **state)
{
    (void)state;
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;</Message>"
        "<RequestId>tx1</RequestId><Empty/></Error>";
    struct buf t = BUF_INIT(1024);
    assert_int_equal(xml_get(doc, strlen(doc), "Code", &t), SL_OK);
    assert_string_equal(buf_str(&t), "SignatureDoesNotMatch");
    assert_int_equal(xml_get(doc, strlen(doc), "Message", &t), SL_OK);
    assert_string_equal(buf_str(&t), "a <b> & \"c\" 'd' AB");
    assert_int_equal(xml_get(doc, strlen(doc), "Empty", &t), SL_OK);
    assert_string_equal(buf_str(&t), "");
    assert_int_equal(xml_get(doc, strlen(doc), "Missing", &t), SL_EABSENT);
    assert_int_equal(xml_get(NULL, 0, "Code", &t), SL_EABSENT);
    buf_free(&t);
}

static void test_iterate_and_prefix_names(void **state)
{
    (void)state;
    /* <Uploads> must not match <Upload>; attributes are allowed */
    static const char doc[] =
        "<ListMultipartUploadsResult><Uploads>x</Uploads>"
        "<Upload><Key>a</Key><UploadId>1</UploadId></Upload>"
        "<Upload xmlns=\"x\"><Key>b&amp;c</Key><UploadId>2</UploadId></Upload>"
        "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
    size_t pos = 0, n, count = 0;
    const char *in;
    const char *keys[] = {"a", "b&c"};
    struct buf t = BUF_INIT(1024);
    while (xml_next(doc, strlen(doc), &pos, "Upload", &in, &n)) {
        assert_true(count < 2);
        assert_int_equal(xml_get(in, n, "Key", &t), SL_OK);
        assert_string_equal(buf_str(&t), keys[count]);
        count++;
    }
    assert_int_equal(count, 2);
    buf_free(&t);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "<Code>unterminated", "<Code", "<", "", "</Code>", "<Code>&bogus;</Code>",
        "<Code>&#0;</Code>", "<Code>&#xZZ;</Code>", "<Code>&#1234567;</Code>", "<Code>&amp</Code>",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct buf t = BUF_INIT(64);
        enum sl_err e = xml_get(docs[i], strlen(docs[i]), "Code", &t);
        assert_true(e == SL_EABSENT || e == SL_EBADREQ);
        buf_free(&t);
    }
    /* the length bounds the search: a match past len is not seen */
    struct buf t = BUF_INIT(64);
    assert_int_equal(xml_get("<A>1</A><B>2</B>", 8, "B", &t), SL_EABSENT);
    buf_free(&t);
}

static void test_escape(void **state)
{
    (void)state;
    struct buf t = BUF_INIT(256);
    assert_int_equal(xml_escape(&t, "\"etag\" <&>'"), SL_OK);
    assert_string_equal(buf_str(&t), "&quot;etag&quot; &lt;&amp;&gt;&apos;");
    buf_free(&t);
}

static void test_json_strings(void **state)
{
    (void)state;
    static const struct { const char *in; size_t n; const char *out; } t[] = {
        {"plain", 5, "\"plain\""},
        {"q\"b\\", 4, "\"q\\\"b\\\\\""},
        {"a\nb\tc\x01", 6, "\"a\\u000ab\\u0009c\\u0001\""},
        {"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"bad\xff", 4, "\"bad\xef\xbf\xbd\""},
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},          /* overlong '/' */
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},          /* truncated */
        {"nul\0in", 6, "\"nul\\u0000in\""},
        {"</script>", 9, "\"</script>\""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf b = BUF_INIT(256);
        assert_int_equal(json_strn(&b, t[i].in, t[i].n), SL_OK);
        assert_string_equal(buf_str(&b), t[i].out);
        buf_free(&b);
    }
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(8);
    assert_int_equal(buf_puts(&b, "12345678"), SL_OK);
    assert_int_equal(buf_putc(&b, '9'), SL_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_int_equal(buf_printf(&b, "%d", 1), SL_ETOOBIG);
    assert_string_equal(buf_str(&b), "12345678");
    buf_reset(&b);
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), SL_OK);
    assert_string_equal(buf_str(&b), "ab-42");
    buf_free(&b);
    assert_string_equal(buf_str(&b), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_document),
        cmocka_unit_test(test_iterate_and_prefix_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests_name("xml, json, buf", tests, NULL, NULL);
}
