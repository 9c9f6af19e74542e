/*
 * The unsubscribe link of every email (RFC 8058; docs/ARCHITECTURE.md §16),
 * served without an API key: the signed token is the authority.
 *
 *   POST /unsubscribe?token=...   one click: the recipient goes on the
 *                                 tenant's suppression list as "unsubscribed"
 *                                 (the body, "List-Unsubscribe=One-Click", is
 *                                 not needed); 200, and 200 again for a link
 *                                 used twice
 *   GET  /unsubscribe?token=...   a page with a button that makes that POST:
 *                                 a GET changes nothing, because mail
 *                                 scanners fetch links nobody clicked
 *
 * A token that is malformed, altered or expired is a 400 naming the rule;
 * with no WAVECOM_UNSUBSCRIBE_SECRET configured the route answers 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "query.h"
#include "response.h"
#include "wc_store_suppressions.h"
#include "wc_time.h"
#include "wc_unsubscribe_token.h"

static const char *const token_args[] = {"token", NULL};

/* The token's claims; false with the 4xx in *res. */
static bool checked_token(api_context_t *ctx, const api_request_t *req,
                          wc_unsubscribe_claims_t *claims, const char **token,
                          api_response_t *res)
{
    if (ctx->cfg->unsubscribe_secret[0] == '\0') {
        *res = api_error(404, "unsubscribe links are not enabled on this server");
        return false;
    }
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, token_args, &q, &errs);
    *token = api_query_get(&q, "token");
    if (errs.count == 0 && *token == NULL) {
        wc_field_errors_add(&errs, "token", "required", "token is required");
    }
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return false;
    }
    switch (wc_unsubscribe_token_verify(ctx->cfg->unsubscribe_secret, *token,
                                        wc_time_now_ms() / 1000, claims)) {
    case WC_UNSUBSCRIBE_VALID:
        return true;
    case WC_UNSUBSCRIBE_MALFORMED:
        *res = api_field_error("token", "format", "token is not an unsubscribe token");
        return false;
    case WC_UNSUBSCRIBE_BAD_SIGNATURE:
        *res = api_field_error("token", "signature", "token's signature does not match");
        return false;
    case WC_UNSUBSCRIBE_EXPIRED:
        *res = api_field_error("token", "expired",
                               "this unsubscribe link has expired; use the link of a newer email");
        return false;
    }
    *res = api_field_error("token", "format", "token is not an unsubscribe token");
    return false;
}

api_response_t api_handle_unsubscribe(api_context_t *ctx, const api_request_t *req,
                                      const wc_principal_t *principal, const char *param)
{
    (void)principal;
    (void)param;
    api_response_t res;
    wc_unsubscribe_claims_t claims;
    const char *token = NULL;
    if (!checked_token(ctx, req, &claims, &token, &res)) {
        return res;
    }
    /* An upsert: the second click of one link stores nothing new. A manual
     * or bounce entry already there keeps its stronger reason. */
    bson_t *existing = NULL;
    wc_store_status_t status = wc_store_suppression_get(ctx->store, claims.tenant_id,
                                                        claims.channel, claims.recipient,
                                                        &existing);
    bool already = status == WC_STORE_OK;
    bson_destroy(existing);
    if (status == WC_STORE_NOT_FOUND) {
        status = wc_store_suppression_put(ctx->store, claims.tenant_id, claims.channel,
                                          claims.recipient, WC_SUPPRESS_UNSUBSCRIBED,
                                          "unsubscribe-link", wc_time_now_ms(), NULL);
    }
    if (status != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *data = json_object_new_object();
    json_object_object_add(data, "channel", json_object_new_string(wc_channel_name(claims.channel)));
    json_object_object_add(data, "unsubscribed", json_object_new_boolean(true));
    json_object_object_add(data, "alreadyUnsubscribed", json_object_new_boolean(already));
    return api_ok(200, data, already ? "Already unsubscribed" : "Unsubscribed");
}

api_response_t api_handle_unsubscribe_page(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param)
{
    (void)principal;
    (void)param;
    api_response_t res;
    wc_unsubscribe_claims_t claims;
    const char *token = NULL;
    if (!checked_token(ctx, req, &claims, &token, &res)) {
        return res;
    }
    /* The token is base64url and dots only (checked above), safe in HTML. */
    static const char page[] =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>Unsubscribe</title></head><body>\n"
        "<h1>Unsubscribe</h1>\n<p>Stop receiving these emails at this address?</p>\n"
        "<form method=\"post\" action=\"unsubscribe?token=%s\">"
        "<button type=\"submit\">Unsubscribe</button></form>\n</body></html>\n";
    size_t len = sizeof(page) + strlen(token);
    char *html = malloc(len);
    if (html == NULL) {
        return api_error(500, "out of memory");
    }
    snprintf(html, len, page, token);
    res = api_text(200, html, "text/html; charset=utf-8");
    api_response_header(&res, "Cache-Control", "no-store");
    return res;
}
