/* bucketcfg: sluice's own rules inside a bucket's lifecycle and CORS configurations.
 *
 * A bucket has one lifecycle document and one CORS document, shared with whatever else the
 * operator keeps there, and S3 only lets a client replace either as a whole. So
 * `sluicectl setup-bucket` reads the document, leaves every rule that is not sluice's as it
 * is (same elements, same order), and adds or replaces only sluice's own rule:
 * - lifecycle: the Rule whose ID is BUCKETCFG_LIFECYCLE_ID;
 * - CORS: the CORSRule whose ID is BUCKETCFG_CORS_ID, or one without an ID shaped exactly
 *   like the rule older sluicectl versions wrote (methods GET HEAD PUT POST, header *, ETag
 *   exposed, max age 3000), which is replaced by the tagged one on --force.
 *
 * Pure: documents in, a document out, no I/O. The input is S3's answer and untrusted: it is
 * parsed by libxml2 without network access, DTD loading or entity substitution, and a
 * document with a DOCTYPE is refused (S3 sends none). Both lifecycle filter forms are read
 * (rule-level <Prefix> and <Filter>, with or without <And>, and RGW's own variants of them);
 * sluice's rule is written in the form the document's other rules use, since AWS refuses a
 * document mixing rule-level <Prefix> with <Filter>.
 *
 * Only sluicectl links this (and libxml2); the worker never does. */
#ifndef SLUICE_BUCKETCFG_H
#define SLUICE_BUCKETCFG_H

#include <stddef.h>

#include "err.h"

#define BUCKETCFG_LIFECYCLE_ID "sluice-abort-incomplete"
#define BUCKETCFG_CORS_ID "sluice-direct-upload"
#define BUCKETCFG_ABORT_DAYS 1         /* multipart uploads aborted this long after they start */
#define BUCKETCFG_CORS_MAX_AGE 3000    /* seconds a browser may cache the preflight */

enum bucketcfg_state {
    BUCKETCFG_ABSENT,    /* no rule of sluice's in the document */
    BUCKETCFG_STALE,     /* sluice's rule is there but differs from what it should say (or
                          * there is more than one) */
    BUCKETCFG_CURRENT,   /* exactly one rule of sluice's, saying what setup-bucket writes */
};

struct bucketcfg_rule {
    char *line;          /* one printable line describing the rule (malloc'd) */
    int shadows;         /* CORS only: this rule comes before sluice's and answers a browser's
                          * PUT or POST from one of sluice's origins first */
};

struct bucketcfg_merge {
    enum bucketcfg_state found;     /* sluice's rule in the document that was read */
    char *mine;                     /* that rule described in one line; NULL if absent */
    int changed;                    /* 1: PUT doc; 0: the bucket is to be left as it is */
    char *doc;                      /* the document to PUT when changed (NUL-terminated) */
    size_t doc_len;
    struct bucketcfg_rule *foreign; /* the rules that are not sluice's, in document order */
    size_t n_foreign;
};

/* Merges sluice's lifecycle rule (abort multipart uploads under prefix BUCKETCFG_ABORT_DAYS
 * after they start) into the document cur[0..len), which is NULL/0 when the bucket has none.
 * Without force, the rule is added only when absent; with force, sluice's rule is replaced
 * (or added) and any duplicate of it dropped. Foreign rules are never changed or dropped.
 * SL_EBADREQ if cur is not a lifecycle configuration, SL_ENOMEM. On error *m is empty. The
 * caller frees *m with bucketcfg_merge_free (also after an error). */
enum sl_err bucketcfg_lifecycle(const char *cur, size_t len, const char *prefix, int force,
                                struct bucketcfg_merge *m);
/* The same for the CORS rule direct uploads need: GET HEAD PUT POST from origins (a NULL-
 * terminated list, at least one), any request header, ETag exposed. sluice's rule goes after
 * the foreign ones: S3 answers with the first rule that matches, so foreign rules keep
 * answering what they answered before (see struct bucketcfg_rule's shadows). */
enum sl_err bucketcfg_cors(const char *cur, size_t len, char *const *origins, int force,
                           struct bucketcfg_merge *m);
void bucketcfg_merge_free(struct bucketcfg_merge *m);

#endif
