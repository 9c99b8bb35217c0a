/* sandbox: an uploaded image is decoded only in a process that can do nothing else.
 *
 * The parent (sluice-thumbd, which holds the S3 credentials) spawns its own binary as
 * `sluice-thumbd --decode ...` with an empty environment, the image on a pipe as stdin, the
 * thumbnail read back from a pipe on stdout, stderr kept for its one log line, and no other
 * file descriptor. Before it reads a byte the child sets RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE
 * and RLIMIT_NPROC, PR_SET_NO_NEW_PRIVS, and a seccomp allow-list (libseccomp) of what
 * decoding needs: read, write, memory, exit. A decoder bug therefore has no credential, no
 * socket, no file and no other syscall to use; a crash, a limit hit or a forbidden syscall
 * ends the child, and the parent reports the image as one that cannot be made (permanent). */
#ifndef SLUICE_SANDBOX_H
#define SLUICE_SANDBOX_H

#include <stddef.h>

#include "err.h"
#include "thumb.h"

/* Decodes src in a sandboxed child of self (the path of sluice-thumbd). *out is malloc'ed
 * (free()). SL_EBADREQ / SL_ETOOBIG: the image was refused or killed its decoder (why says
 * which); SL_EIO: the child could not be run at all (worth retrying). */
enum sl_err sandbox_make(const char *self, const void *src, size_t n, const struct thumb_opts *o,
                         unsigned char **out, size_t *out_len, struct thumb_info *info,
                         char *why, size_t why_len);

/* The child's main: argv = {"--decode", max_edge, max_pixels, webp, quality} (or
 * {"--decode-probe", what} for the self-test). Returns its exit status. */
int sandbox_child(int argc, char **argv);
/* `sluice-thumbd --sandbox-check`: spawns probe children exactly as decoders are spawned and
 * proves each cannot see the parent's environment or descriptors, open a file, make a socket,
 * exec, or allocate past its memory limit. Prints a line each; 1 if any got through. */
int sandbox_selftest(const char *self);

#endif
