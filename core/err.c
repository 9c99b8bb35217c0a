#include "err.h"

#include <stdio.h>

#define C SL_CLASS_CLIENT
#define R SL_CLASS_RETRYABLE
#define I SL_CLASS_INTERNAL

static const struct sl_err_info table[SL_ERR_COUNT] = {
    [SL_OK] = {"ok", "success", 200, "OK", SL_CLASS_OK},
    [SL_EBADREQ] = {"bad_request", "the request is malformed", 400, "Bad Request", C},
    [SL_EUNAUTH] = {"unauthorized", "a valid upload token is required", 401, "Unauthorized", C},
    [SL_EFORBIDDEN] = {"forbidden", "not allowed", 403, "Forbidden", C},
    [SL_ENOTFOUND] = {"not_found", "no such drop", 404, "Not Found", C},
    [SL_EMETHOD] = {"method_not_allowed", "method not allowed here", 405, "Method Not Allowed", C},
    [SL_ECLIENT_TIMEOUT] = {"request_timeout", "the client sent no data for too long", 408,
                            "Request Timeout", C},
    [SL_ECONFLICT] = {"conflict", "the drop is in a conflicting state", 409, "Conflict", C},
    [SL_ETOOBIG] = {"too_large", "the upload is larger than allowed", 413, "Payload Too Large", C},
    [SL_EUNPROCESSABLE] = {"unprocessable", "the upload does not match what was announced", 422,
                           "Unprocessable Content", C},
    [SL_ECLIENT_GONE] = {"client_gone", "the client closed the connection", 400, "Bad Request", C},
    [SL_ECHANGED] = {"changed", "this drop's bytes were changed after it was uploaded; it is no "
                    "longer served", 409, "Conflict", C},
    [SL_ELIMIT] = {"over_limit", "this token is at its limit, retry later", 429,
                   "Too Many Requests", C},
    [SL_EBUSY] = {"busy", "all upload slots are in use, retry shortly", 503,
                  "Service Unavailable", R},
    [SL_ESHUTDOWN] = {"shutting_down", "the server is restarting, retry shortly", 503,
                      "Service Unavailable", R},
    [SL_ES3_RETRY] = {"storage_unavailable", "the storage service is temporarily unavailable", 503,
                      "Service Unavailable", R},
    [SL_ES3_NET] = {"storage_unreachable", "the storage service could not be reached", 502,
                    "Bad Gateway", R},
    [SL_ES3_TIMEOUT] = {"storage_timeout", "the storage service stopped making progress", 504,
                        "Gateway Timeout", R},
    [SL_ES3_AUTH] = {"storage_auth", "the storage service rejected our credentials", 500,
                     "Internal Server Error", I},
    [SL_ES3_NOTFOUND] = {"storage_not_found", "no such object in storage", 404, "Not Found", C},
    [SL_ES3_REJECTED] = {"storage_rejected", "the storage service rejected the request", 502,
                         "Bad Gateway", I},
    [SL_ENOMEM] = {"out_of_memory", "out of memory", 500, "Internal Server Error", I},
    [SL_EIO] = {"local_io", "local I/O error", 500, "Internal Server Error", I},
    [SL_ECONFIG] = {"config", "configuration error", 500, "Internal Server Error", I},
    [SL_EINTERNAL] = {"internal", "internal error", 500, "Internal Server Error", I},
    /* xml_get's "no such element": callers turn it into what it means for them (a listing
     * field that is "", a refused answer); reaching a client unchanged is our bug */
    [SL_EABSENT] = {"xml_absent", "an expected XML element is absent", 500,
                    "Internal Server Error", I},
    /* the producer that feeds a request body (the pipe's queue) checks the client's length
     * itself (fcgi answers a cut body as client_gone); when a source still ends early it
     * broke its own contract */
    [SL_ESHORT_BODY] = {"short_body", "a request body ended before its announced length", 500,
                        "Internal Server Error", I},
    /* a startup problem of the daemon (two workers configured with one name), not a request's */
    [SL_EINUSE] = {"worker_in_use", "the spool worker name is in use by a live process", 500,
                   "Internal Server Error", I},
    /* internal, not client: every value a client can influence is encoded or checked before
     * it reaches the S3 client (drop_meta_to_kv, drop_content_type), so a control character
     * here means one of our callers skipped that; a 400 would blame the client for our bug,
     * and retrying would send the same thing again */
    [SL_EHEADER_VALUE] = {"unsafe_header", "refused to send a header with control characters",
                          500, "Internal Server Error", I},
};

const struct sl_err_info *sl_err_info(enum sl_err e)
{
    if ((unsigned)e >= SL_ERR_COUNT)
        e = SL_EINTERNAL;
    return &table[e];
}

const char *sl_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

int sl_log_to(const char *path)
{
    if (!freopen(path, "a", stderr))
        return -1;
    setvbuf(stderr, NULL, _IOLBF, 0);
    return 0;
}
