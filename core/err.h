/* err: the one error enum of the project.
 *
 * Every fallible function returns an enum sl_err and hands results back through pointers.
 * Each code belongs to one class — the client's fault (a 4xx), upstream trouble worth retrying
 * (S3 5xx, SlowDown, resets, timeouts), or our own fault (config, memory, bugs) — and
 * sl_err_info() turns it into text and an HTTP status in one place. */
#ifndef SLUICE_ERR_H
#define SLUICE_ERR_H

enum sl_err {
    SL_OK = 0,
    /* the client's fault */
    SL_EBADREQ,          /* malformed request or input */
    SL_EUNAUTH,          /* missing or wrong bearer token */
    SL_EFORBIDDEN,       /* authenticated but not allowed (e.g. wrong delete token) */
    SL_ENOTFOUND,        /* no such drop / route */
    SL_EMETHOD,          /* method not allowed on this route */
    SL_ECLIENT_TIMEOUT,  /* the client went idle mid-body */
    SL_ECONFLICT,        /* state conflict (e.g. reservation already used) */
    SL_ETOOBIG,          /* over a size limit (body, header, buffer cap) */
    SL_EUNPROCESSABLE,   /* well-formed but wrong (e.g. size mismatch on complete) */
    SL_ECLIENT_GONE,     /* the client aborted; nobody to answer */
    SL_ECHANGED,         /* a drop's bytes are not the ones that were committed */
    SL_ELIMIT,           /* this token is at one of its own limits (slots, reservations) */
    /* upstream trouble, worth retrying */
    SL_EBUSY,            /* every upload slot is taken */
    SL_ESHUTDOWN,        /* the worker is shutting down */
    SL_ES3_RETRY,        /* S3 answered 5xx / SlowDown / RequestTimeout */
    SL_ES3_NET,          /* could not reach S3, or the connection broke */
    SL_ES3_TIMEOUT,      /* S3 made no progress for the stall timeout */
    /* upstream refused us: retrying will not help */
    SL_ES3_AUTH,         /* S3 rejected our credentials or signature (or clock skew) */
    SL_ES3_NOTFOUND,     /* no such key, bucket or multipart upload */
    SL_ES3_REJECTED,     /* any other 4xx from S3: we sent something S3 does not accept */
    /* our own fault */
    SL_ENOMEM,
    SL_EIO,              /* local I/O (spool, slot files, sockets of our own) */
    SL_ECONFIG,          /* bad or missing configuration */
    SL_EINTERNAL,        /* a bug or an impossible state */
    SL_EABSENT,          /* an XML element we looked for is not there (xml_get) */
    SL_ESHORT_BODY,      /* a request body's source ended before its announced length */
    SL_EINUSE,           /* the spool worker name is held by another live process */
    SL_EHEADER_VALUE,    /* about to send a header with control characters: refused */
    SL_ERR_COUNT
};

enum sl_err_class {
    SL_CLASS_OK,
    SL_CLASS_CLIENT,     /* 4xx: tell the client, never retry */
    SL_CLASS_RETRYABLE,  /* transient: retry with backoff (idempotent requests only) */
    SL_CLASS_INTERNAL    /* ours or a config problem: log loudly, 5xx */
};

struct sl_err_info {
    const char *code;        /* stable machine-readable code, used as JSON "error" and as the
                              * /metrics reason label: one distinct string per code */
    const char *message;     /* one plain sentence for humans */
    int http_status;         /* what an HTTP client should see */
    const char *reason;      /* the reason phrase that goes with http_status */
    enum sl_err_class cls;
};

/* Never NULL: an out-of-range code yields the SL_EINTERNAL entry. Static storage. */
const struct sl_err_info *sl_err_info(enum sl_err e);

static inline const char *sl_err_str(enum sl_err e) { return sl_err_info(e)->message; }
static inline enum sl_err_class sl_err_class(enum sl_err e) { return sl_err_info(e)->cls; }

/* The reason phrase for any HTTP status sluice sends ("Payload Too Large"); "" if unknown. */
const char *sl_http_reason(int status);

/* The daemons' -l LOGFILE: stderr appended to path, line-buffered. -1 (errno set) on failure. */
int sl_log_to(const char *path);

#endif
