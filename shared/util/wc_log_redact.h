/*
 * Masking of what must never reach a log: API keys (wck_...), webhook secrets
 * (whsec_...), bearer tokens, long opaque tokens (push device tokens, JWTs,
 * hashes of 64 characters and more), email addresses, E.164 numbers and the
 * path and query of URLs. Every log line goes through it (wc_log.c), so a
 * provider's error text that echoes a recipient is masked too.
 */
#ifndef WC_LOG_REDACT_H
#define WC_LOG_REDACT_H

#include <stddef.h>

/* Writes `in`, masked, into `out` (always NUL-terminated, cut at out_len). */
void wc_log_redact(const char *in, char *out, size_t out_len);

#endif
