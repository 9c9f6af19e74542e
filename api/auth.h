/* API keys: `Authorization: Bearer <key>`, looked up by the key's SHA-256. */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stdbool.h>

#include "api.h"

typedef enum {
    API_AUTH_OK,
    API_AUTH_MISSING,     /* no Authorization header, or not a Bearer one */
    API_AUTH_INVALID,     /* unknown or revoked key, or disabled tenant */
    API_AUTH_UNAVAILABLE, /* the database could not be asked */
} api_auth_result_t;

api_auth_result_t api_authenticate(api_context_t *ctx, const api_request_t *req,
                                   wc_principal_t *out);

#endif
