/* The route table: every route reached by its method and path with the right captures, 404
 * for paths no route has, 405 with exactly the methods the path's routes allow, and no route
 * shadowed by an earlier one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "router.h"

static const struct {
    const char *method, *path, *name, *arg0, *arg1;
} hits[] = {
    {"GET", "/healthz", "health", NULL, NULL},
    {"HEAD", "/healthz", "health", NULL, NULL},
    {"GET", "/metrics", "metrics", NULL, NULL},
    {"GET", "/api/config", "config", NULL, NULL},
    {"POST", "/api/drops", "upload-post", NULL, NULL},
    {"POST", "/api/drops/", "upload-post", NULL, NULL},
    {"PUT", "/api/drops/a%20b.txt", "upload-put", "a%20b.txt", NULL},
    {"PUT", "/api/drops/dir/x.bin", "upload-put", "dir/x.bin", NULL},
    {"DELETE", "/api/drops/AAAAAAAAAAAAAAAAAAAAAA", "delete", "AAAAAAAAAAAAAAAAAAAAAA", NULL},
    {"POST", "/api/reservations", "upload-reserve", NULL, NULL},
    {"POST", "/api/uploads", "direct-create", NULL, NULL},
    {"POST", "/api/uploads/abc/complete", "direct-complete", "abc", NULL},
    {"DELETE", "/api/uploads/abc", "direct-cancel", "abc", NULL},
    {"GET", "/d/abc", "share", "abc", NULL},
    {"HEAD", "/d/abc", "share", "abc", NULL},
    {"GET", "/d/abc/download", "download", "abc", NULL},
    {"GET", "/d/abc/thumbnail", "thumbnail", "abc", NULL},
    {"HEAD", "/d/abc/thumbnail", "thumbnail", "abc", NULL},
    {"GET", "/s3/params", "uppy-params", NULL, NULL},
    {"POST", "/s3/multipart", "uppy-create", NULL, NULL},
    {"GET", "/s3/multipart/2~u%2Fp", "uppy-list", "2~u%2Fp", NULL},
    {"HEAD", "/s3/multipart/u", "uppy-list", "u", NULL},
    {"DELETE", "/s3/multipart/u", "uppy-abort", "u", NULL},
    {"GET", "/s3/multipart/u/batch", "uppy-batch", "u", NULL},
    {"POST", "/s3/multipart/u/complete", "uppy-complete", "u", NULL},
    {"GET", "/s3/multipart/u/7", "uppy-sign", "u", "7"},
    {"GET", "/s3/multipart/u/complete", "uppy-sign", "u", "complete"},   /* GET: a part "name" */
};

static void test_every_route(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        struct route_match m;
        char allow[ROUTER_ALLOW_MAX];
        int st = router_match(hits[i].method, hits[i].path, &m, allow);
        if (st != 200)
            fail_msg("%s %s: %d", hits[i].method, hits[i].path, st);
        assert_string_equal(m.route->name, hits[i].name);
        assert_int_equal(m.n_args, (hits[i].arg0 != NULL) + (hits[i].arg1 != NULL));
        if (hits[i].arg0)
            assert_string_equal(m.arg[0], hits[i].arg0);
        if (hits[i].arg1)
            assert_string_equal(m.arg[1], hits[i].arg1);
    }
}

static void test_not_found(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/", "", "/healthz/", "/healthzz", "/api", "/api/drop", "/api/uploads/abc/x",
        "/api/uploads/abc/complete/x", "/api/uploads//complete", "/d", "/d/", "/d//download",
        "/d/abc/other", "/d/abc/download/x", "/s3", "/s3/", "/s3/multipart/", "/s3/other",
        "/s3/multipart/u/7/x", "/api/drops/x/../..",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct route_match m;
        char allow[ROUTER_ALLOW_MAX];
        int st = router_match("GET", paths[i], &m, allow);
        if (!strcmp(paths[i], "/api/drops/x/../.."))
            assert_int_equal(st, 405);   /* PUT/DELETE take the rest, dots and all */
        else if (st != 404)
            fail_msg("GET %s: %d, not 404", paths[i], st);
    }
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *allow;
    } t[] = {
        {"POST", "/healthz", "GET, HEAD"},
        {"DELETE", "/metrics", "GET, HEAD"},
        {"PUT", "/api/config", "GET, HEAD"},
        {"GET", "/api/drops", "POST"},
        {"PUT", "/api/drops", "POST"},
        {"GET", "/api/drops/x.bin", "PUT, DELETE"},
        {"POST", "/api/drops/x.bin", "PUT, DELETE"},
        {"GET", "/api/uploads", "POST"},
        {"GET", "/api/uploads/abc/complete", "POST"},
        {"POST", "/api/uploads/abc", "DELETE"},
        {"POST", "/d/abc", "GET, HEAD"},
        {"DELETE", "/d/abc/download", "GET, HEAD"},
        {"PUT", "/d/abc/thumbnail", "GET, HEAD"},
        {"POST", "/s3/params", "GET"},
        {"GET", "/s3/multipart", "POST"},
        {"POST", "/s3/multipart/u", "GET, HEAD, DELETE"},
        {"PUT", "/s3/multipart/u/batch", "GET"},
        {"DELETE", "/s3/multipart/u/7", "GET"},
        {"OPTIONS", "/healthz", "GET, HEAD"},
        {"BREW", "/d/abc", "GET, HEAD"},
        {"PUT", "/s3/multipart/u/complete", "GET, POST"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct route_match m;
        char allow[ROUTER_ALLOW_MAX];
        int st = router_match(t[i].method, t[i].path, &m, allow);
        if (st != 405)
            fail_msg("%s %s: %d, not 405", t[i].method, t[i].path, st);
        if (strcmp(allow, t[i].allow) != 0)
            fail_msg("%s %s: Allow '%s', want '%s'", t[i].method, t[i].path, allow, t[i].allow);
    }
}

/* each entry is reached by some request: none is shadowed by an earlier one */
static void test_no_shadowed_routes(void **state)
{
    (void)state;
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    for (size_t i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        char path[256] = "";
        size_t o = 0;
        for (const char *p = r->pattern; *p;) {   /* each capture becomes "v<i>" */
            if (*p == '{') {
                o += (size_t)snprintf(path + o, sizeof path - o, "v%zu", i);
                p = strchr(p, '}') + 1;
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        for (size_t k = 0; k < 5; k++) {
            if (!(r->methods & (1u << k)))
                continue;
            struct route_match m;
            char allow[ROUTER_ALLOW_MAX];
            assert_int_equal(router_match(names[k], path, &m, allow), 200);
            if (m.route != r)
                fail_msg("%s %s reaches %s, not %s", names[k], path, m.route->name, r->name);
        }
    }
}

static void test_long_paths(void **state)
{
    (void)state;
    char path[2100] = "/api/drops/";
    memset(path + 11, 'a', 2040);
    path[2051] = '\0';
    struct route_match m;
    char allow[ROUTER_ALLOW_MAX];
    assert_int_equal(router_match("PUT", path, &m, allow), 200);
    assert_int_equal(strlen(m.arg[0]), 2040);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_no_shadowed_routes),
        cmocka_unit_test(test_long_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
