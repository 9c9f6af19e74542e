/*
 * HS256 JSON Web Tokens for dashboard users (WAVECOM_JWT_SECRET): a token
 * names a tenant and one of the API key roles, so the router treats it like
 * a key of that role. Only HS256 is accepted (never "none", never another
 * algorithm the header asks for), the signature is compared in constant
 * time, and `exp` is required.
 *
 * Claims: "tenant" (the tenant id), "role" (admin, operator, sender,
 * viewer), "exp" (seconds since the epoch), optional "nbf", optional "sub"
 * (who, for the audit trail).
 */
#ifndef WC_JWT_VERIFY_H
#define WC_JWT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char tenant_id[25];
    char role[16];
    char subject[65];
} wc_jwt_claims_t;

/* Verifies `token` with `secret` at `now_s`. Returns 0 with the claims in
 * *out, or -1 with a short reason in *why. */
int wc_jwt_verify_hs256(const char *token, const void *secret, size_t secret_len, int64_t now_s,
                        wc_jwt_claims_t *out, const char **why);

#endif
