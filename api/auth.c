#include "auth.h"

#include <string.h>
#include <strings.h>

/* Longer values are not keys we issued; refusing them early bounds the work. */
#define MAX_KEY_LEN 128

api_auth_result_t api_authenticate(api_context_t *ctx, const api_request_t *req,
                                   wc_principal_t *out)
{
    const char *header = api_request_header(req, "Authorization");
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
        return API_AUTH_MISSING;
    }
    const char *key = header + 7;
    while (*key == ' ') {
        key++;
    }
    size_t len = strlen(key);
    if (len == 0) {
        return API_AUTH_MISSING;
    }
    if (len > MAX_KEY_LEN) {
        return API_AUTH_INVALID;
    }
    switch (wc_store_authenticate(ctx->store, key, out)) {
    case WC_STORE_OK:
        return API_AUTH_OK;
    case WC_STORE_NOT_FOUND:
    case WC_STORE_CONFLICT:
        return API_AUTH_INVALID;
    case WC_STORE_ERROR:
        break;
    }
    return API_AUTH_UNAVAILABLE;
}
