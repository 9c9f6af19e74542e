/*
 * Response encodings: gzip when the client accepts it, and entity tags for
 * conditional GETs. Pure functions, unit-tested without a server.
 */
#ifndef API_ENCODING_H
#define API_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

/* Bodies smaller than this go uncompressed: gzip's 18-byte frame and the
 * CPU would outweigh the saving. */
#define API_GZIP_MIN_BYTES 512

/* True when an Accept-Encoding value admits gzip: "gzip" or "x-gzip" with a
 * q-value above 0, or "*" above 0 without gzip named otherwise. */
bool api_accepts_gzip(const char *accept_encoding);

/* Compresses `data` as a gzip stream. Returns a buffer the caller frees, or
 * NULL on failure (the caller then sends the body as it is). */
unsigned char *api_gzip(const void *data, size_t len, size_t *out_len);

/* A weak entity tag of the (uncompressed) body: W/"<32 hex digits of its
 * SHA-256>". Weak, because the gzip and identity forms of one body are the
 * same resource state but not the same bytes. */
#define API_ETAG_LEN 40
void api_etag(const void *body, size_t len, char out[API_ETAG_LEN]);

/* True when an If-None-Match value names `etag` (weak comparison) or is "*". */
bool api_etag_matches(const char *if_none_match, const char *etag);

#endif
