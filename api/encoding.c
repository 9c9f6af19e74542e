#include "encoding.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "wc_crypto.h"

/* The q-value of one Accept-Encoding element ("gzip;q=0.5"): 1 without one. */
static double element_quality(const char *params, size_t len)
{
    const char *p = params;
    const char *end = params + len;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) {
            p++;
        }
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char value[8] = "";
            size_t n = 0;
            for (p += 2; p < end && n < sizeof(value) - 1 && *p != ';'; p++) {
                value[n++] = *p;
            }
            return strtod(value, NULL);
        }
        while (p < end && *p != ';') {
            p++;
        }
    }
    return 1.0;
}

bool api_accepts_gzip(const char *value)
{
    if (value == NULL) {
        return false;
    }
    double gzip_q = -1;
    double star_q = -1;
    const char *p = value;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *elem = p;
        while (len > 0 && (*elem == ' ' || *elem == '\t')) {
            elem++;
            len--;
        }
        size_t name_len = strcspn(elem, ";, \t");
        if (name_len > len) {
            name_len = len;
        }
        double q = element_quality(elem + name_len, len - name_len);
        if ((name_len == 4 && strncasecmp(elem, "gzip", 4) == 0) ||
            (name_len == 6 && strncasecmp(elem, "x-gzip", 6) == 0)) {
            gzip_q = q;
        } else if (name_len == 1 && elem[0] == '*') {
            star_q = q;
        }
        p = elem + len;
        if (*p == ',') {
            p++;
        }
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

unsigned char *api_gzip(const void *data, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 16: a gzip wrapper rather than zlib's. Level 1: the bodies are
     * JSON, which compresses well even at the fastest level. */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    uLong bound = deflateBound(&zs, (uLong)len);
    unsigned char *out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

void api_etag(const void *body, size_t len, char out[API_ETAG_LEN])
{
    char hex[WC_SHA256_HEX_LEN];
    wc_sha256_hex(body, len, hex);
    snprintf(out, API_ETAG_LEN, "W/\"%.32s\"", hex);
}

/* The opaque part of a tag: without W/ and quotes. */
static void opaque(const char *tag, size_t len, const char **start, size_t *n)
{
    if (len >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') {
        tag += 2;
        len -= 2;
    }
    if (len >= 2 && tag[0] == '"' && tag[len - 1] == '"') {
        tag++;
        len -= 2;
    }
    *start = tag;
    *n = len;
}

bool api_etag_matches(const char *if_none_match, const char *etag)
{
    if (if_none_match == NULL) {
        return false;
    }
    const char *want;
    size_t want_len;
    opaque(etag, strlen(etag), &want, &want_len);
    const char *p = if_none_match;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == 1 && p[0] == '*') {
            return true;
        }
        const char *have;
        size_t have_len;
        opaque(p, len, &have, &have_len);
        if (len > 0 && have_len == want_len && memcmp(have, want, want_len) == 0) {
            return true;
        }
        p += strcspn(p, ",");
    }
    return false;
}
