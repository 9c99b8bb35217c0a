/* libFuzzer: what reaches the worker of an HTTP request: method, request URI (path and query),
 * headers. The input is newline-separated: METHOD, REQUEST_URI, Authorization, Content-Length,
 * Content-Type, X-Delete-Token. It goes through the worker's own request setup (fcgi/http.c
 * over libfcgi's parameter lookup) and then every parser a route applies to those strings:
 * the router's table (fcgi/router.c), the filename in the path, the drop id, the query
 * parameters, the multipart boundary. A route's captures must be pieces of the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "drop.h"
#include "http.h"
#include "multipart.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const VARS[] = {"REQUEST_METHOD", "REQUEST_URI", "HTTP_AUTHORIZATION",
                                   "CONTENT_LENGTH", "CONTENT_TYPE", "HTTP_X_DELETE_TOKEN"};
#define NVARS (sizeof VARS / sizeof VARS[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *env[NVARS + 1] = {0};
    size_t k = 0;
    const uint8_t *p = data, *end = data + size;
    while (k < NVARS && p <= end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t vl = strlen(VARS[k]);
        env[k] = malloc(vl + 1 + n + 1);
        memcpy(env[k], VARS[k], vl);
        env[k][vl] = '=';
        memcpy(env[k] + vl + 1, p, n);
        env[k][vl + 1 + n] = '\0';   /* (a NUL inside ends the value, as in a real environ) */
        k++;
        if (!nl)
            break;
        p = nl + 1;
    }
    FCGX_Request fr;
    memset(&fr, 0, sizeof fr);
    fr.envp = env;
    struct http h;
    if (http_init(&h, &fr) == SL_OK) {
        struct route_match m;
        char allow[ROUTER_ALLOW_MAX];
        int st = router_match(h.method, h.path, &m, allow);
        if (st != 200 && st != 404 && st != 405)
            abort();
        if (st == 200) {   /* the pattern with its captures put back is the path again */
            char back[sizeof h.path + 8];
            size_t o = 0, ai = 0;
            for (const char *pp = m.route->pattern; *pp && o < sizeof back - 1;) {
                if (*pp == '{') {
                    if (ai >= m.n_args)
                        abort();
                    size_t n = strlen(m.arg[ai]);
                    if (!n || o + n >= sizeof back || (strchr(m.arg[ai], '/') && pp[1] != '*'))
                        abort();
                    memcpy(back + o, m.arg[ai++], n);
                    o += n;
                    pp = strchr(pp, '}') + 1;
                } else {
                    back[o++] = *pp++;
                }
            }
            back[o] = '\0';
            if (ai != m.n_args || strcmp(back, h.path) != 0 ||
                !(router_method(h.method) & m.route->methods))
                abort();
        }
        struct buf v = BUF_INIT(1 << 16);
        char name[DROP_NAME_MAX + 1], ct[128], boundary[MP_BOUNDARY_MAX + 1];
        if (!strncmp(h.path, "/api/drops/", 11)) {
            const char *raw = h.path + 11;
            if (drop_pct_decode(&v, raw, strlen(raw)) == SL_OK) {
                drop_sanitize_name(buf_str(&v), v.len, name);
                drop_content_type(http_header(&h, "Content-Type"), name, ct);
            }
        }
        if (!strncmp(h.path, "/d/", 3))
            (void)drop_valid_id(h.path + 3);
        static const char *const Q[] = {"id", "filename", "type", "key", "partNumbers", "reserve"};
        for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++)
            (void)drop_query_get(h.query, Q[i], &v);
        const char *tok = http_header(&h, "X-Delete-Token");
        if (tok)
            (void)drop_token_matches(tok, "0000000000000000000000000000000000000000000000000000000000000000");
        (void)http_header(&h, "Authorization");
        (void)mp_boundary(http_header(&h, "Content-Type"), boundary);
        buf_free(&v);
    }
    for (size_t i = 0; i < k; i++)
        free(env[i]);
    return 0;
}
