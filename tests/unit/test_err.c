/* The error table: every code complete and distinct, the strings clients and scripts rely on
 * unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "err.h"

static void test_every_code_is_complete(void **state)
{
    (void)state;
    for (int e = 0; e < SL_ERR_COUNT; e++) {
        const struct sl_err_info *in = sl_err_info((enum sl_err)e);
        assert_non_null(in->code);
        assert_non_null(in->message);
        assert_non_null(in->reason);
        assert_true(in->code[0] && in->message[0]);
        assert_string_equal(in->reason, sl_http_reason(in->http_status));
        switch (in->cls) {
        case SL_CLASS_OK: assert_int_equal(e, SL_OK); break;
        case SL_CLASS_CLIENT: assert_true(in->http_status >= 400 && in->http_status < 500); break;
        case SL_CLASS_RETRYABLE:
        case SL_CLASS_INTERNAL: assert_true(in->http_status >= 500); break;
        default: fail_msg("code %d has no class", e);
        }
    }
}

/* the /metrics reason label is the code string: two codes must never share one */
static void test_code_strings_are_distinct(void **state)
{
    (void)state;
    for (int a = 0; a < SL_ERR_COUNT; a++)
        for (int b = a + 1; b < SL_ERR_COUNT; b++)
            if (!strcmp(sl_err_info((enum sl_err)a)->code, sl_err_info((enum sl_err)b)->code))
                fail_msg("codes %d and %d share \"%s\"", a, b, sl_err_info((enum sl_err)a)->code);
}

static void test_stable_strings(void **state)
{
    (void)state;
    static const struct {
        enum sl_err e;
        const char *code;
        int status;
    } cases[] = {
        {SL_OK, "ok", 200},
        {SL_EBADREQ, "bad_request", 400},
        {SL_EUNAUTH, "unauthorized", 401},
        {SL_ENOTFOUND, "not_found", 404},
        {SL_ECLIENT_TIMEOUT, "request_timeout", 408},
        {SL_ETOOBIG, "too_large", 413},
        {SL_EUNPROCESSABLE, "unprocessable", 422},
        {SL_ECLIENT_GONE, "client_gone", 400},
        {SL_ELIMIT, "over_limit", 429},
        {SL_EBUSY, "busy", 503},
        {SL_ESHUTDOWN, "shutting_down", 503},
        {SL_ES3_RETRY, "storage_unavailable", 503},
        {SL_ES3_TIMEOUT, "storage_timeout", 504},
        {SL_EINTERNAL, "internal", 500},
        {SL_EABSENT, "xml_absent", 500},
        {SL_ESHORT_BODY, "short_body", 500},
        {SL_EINUSE, "worker_in_use", 500},
        {SL_EHEADER_VALUE, "unsafe_header", 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(sl_err_info(cases[i].e)->code, cases[i].code);
        assert_int_equal(sl_err_info(cases[i].e)->http_status, cases[i].status);
    }
    /* out of range: the internal entry, never NULL */
    assert_ptr_equal(sl_err_info((enum sl_err)SL_ERR_COUNT), sl_err_info(SL_EINTERNAL));
    assert_ptr_equal(sl_err_info((enum sl_err)-1), sl_err_info(SL_EINTERNAL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_is_complete),
        cmocka_unit_test(test_code_strings_are_distinct),
        cmocka_unit_test(test_stable_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
