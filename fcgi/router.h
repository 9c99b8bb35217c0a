/* router: the one table of what a worker answers — {methods, path pattern, handler} — and the
 * dispatch over it. A path no pattern matches is 404; a path some pattern matches with a method
 * none of them allows is 405 with Allow listing the methods those patterns do allow.
 *
 * Patterns are '/'-separated segments: a literal, "{name}" (one non-empty segment, no '/'),
 * or a final "{*}" (the non-empty rest of the path, '/' included). Captures arrive in
 * route_match.arg in order, still percent-encoded, NUL-terminated; HEAD is allowed wherever
 * a route lists it. Routes are tried in table order: put literals before captures. */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stddef.h>

enum {
    M_GET = 1, M_HEAD = 2, M_POST = 4, M_PUT = 8, M_DELETE = 16,
};
#define ROUTER_MAX_ARGS 3
#define ROUTER_ALLOW_MAX 64   /* "GET, HEAD, POST, PUT, DELETE" and its NUL fit */

struct ctx;
struct http;
struct s3_client;
struct route_match;

typedef void (*route_fn)(struct ctx *x, struct http *h, struct s3_client *c,
                         const struct route_match *m);

struct route {
    unsigned methods;        /* M_* */
    const char *pattern;
    route_fn fn;
    const char *name;        /* for logs and tests */
};

struct route_match {
    const struct route *route;
    const char *arg[ROUTER_MAX_ARGS];
    size_t n_args;
    char buf[2048 + ROUTER_MAX_ARGS];   /* the captures live here */
};

extern const struct route router_table[];
extern const size_t router_table_len;

/* M_* for a method name, 0 for any other */
unsigned router_method(const char *method);
/* 200: *m filled; 404: no pattern matches the path; 405: allow lists the methods
 * ("GET, HEAD") the matching patterns accept. */
int router_match(const char *method, const char *path, struct route_match *m,
                 char allow[ROUTER_ALLOW_MAX]);
/* Match h and run the handler, or answer 404 / 405 itself. */
void router_dispatch(struct ctx *x, struct http *h, struct s3_client *c);

#endif
