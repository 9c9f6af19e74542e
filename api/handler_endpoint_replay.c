/*
 * POST /api/endpoints/:id/replay: an endpoint's deliveries sent again once
 * its receiver is fixed (docs/ARCHITECTURE.md §14). The body is optional:
 *   {"status": "FAILED" | "ALL", "since": "<ISO 8601>", "until": "<ISO 8601>"}
 * FAILED (the default) replays each FAILED delivery created in [since, until)
 * where it is (replay.h: FAILED -> PENDING -> QUEUED, the same id, so the
 * same webhook-id, with its attempts counted afresh). ALL, which needs
 * `since`, also sends each SENT delivery of the range again, as a new
 * delivery of its event (a new webhook-id: the receiver asked for it again).
 * At most REPLAY_PAGE deliveries a request, oldest first; `more` says there
 * are others, and `continueSince` is the `since` that goes on after them.
 */
#include <stdio.h>
#include <string.h>

#include "fanout.h"
#include "handlers.h"
#include "replay.h"
#include "response.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

#define REPLAY_PAGE 500

typedef struct {
    bool all;
    int64_t since_ms, until_ms;
} replay_args_t;

static void check_time(json_object *v, const char *field, int64_t *out, wc_field_errors_t *errs)
{
    if (!json_object_is_type(v, json_type_string) ||
        wc_time_parse_iso8601(json_object_get_string(v), out) != 0) {
        wc_field_errors_add(errs, field, "format", "%s must be an ISO 8601 date-time", field);
    }
}

static bool parse_args(const api_request_t *req, replay_args_t *out, api_response_t *res)
{
    *out = (replay_args_t){.since_ms = 0, .until_ms = wc_time_now_ms() + 1};
    if (req->body_len == 0) {
        return true;
    }
    json_object *body = NULL;
    if (!api_parse_json_body(req, &body, res)) {
        return false;
    }
    wc_field_errors_t errs = {0};
    bool since_given = false;
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(&errs, "body", "type",
                            "the body must be an object {\"status\", \"since\", \"until\"}");
    } else {
        json_object_object_foreach(body, key, value)
        {
            if (strcmp(key, "status") == 0) {
                const char *s = json_object_is_type(value, json_type_string)
                                    ? json_object_get_string(value)
                                    : "";
                if (strcmp(s, "FAILED") != 0 && strcmp(s, "ALL") != 0) {
                    wc_field_errors_add(&errs, "status", "enum", "status must be FAILED or ALL");
                }
                out->all = strcmp(s, "ALL") == 0;
            } else if (strcmp(key, "since") == 0) {
                check_time(value, "since", &out->since_ms, &errs);
                since_given = true;
            } else if (strcmp(key, "until") == 0) {
                check_time(value, "until", &out->until_ms, &errs);
            } else {
                wc_field_errors_add(&errs, key, "unknown",
                                    "unknown field \"%.40s\"; the body may hold status, since, "
                                    "until",
                                    key);
            }
        }
        if (errs.count == 0 && out->all && !since_given) {
            wc_field_errors_add(&errs, "since", "required",
                                "since is required with status ALL: sent deliveries are sent "
                                "again only for a time range");
        }
        if (errs.count == 0 && out->since_ms >= out->until_ms) {
            wc_field_errors_add(&errs, "until", "range", "until must be later than since");
        }
    }
    json_object_put(body);
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return false;
    }
    return true;
}

/* Sends one SENT delivery again as a new delivery of its event. */
static bool resend(api_context_t *ctx, const char *tenant_id, const bson_t *delivery,
                   const bson_t *endpoint, const char *endpoint_id, const char *resend_key)
{
    const char *event_id = wc_doc_string(delivery, "eventId");
    char key[256];
    bson_t *event = NULL;
    if (event_id == NULL ||
        snprintf(key, sizeof(key), "%s:%s", tenant_id, event_id) >= (int)sizeof(key) ||
        wc_store_event_get(ctx->store, key, &event) != WC_STORE_OK) {
        return false;
    }
    char id[25];
    bool ok = api_fanout_resend(ctx, event, endpoint, endpoint_id, resend_key, id);
    bson_destroy(event);
    return ok;
}

api_response_t api_handle_replay_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    replay_args_t args;
    bson_t *endpoint = NULL;
    if (!api_no_query(req, &res) || !parse_args(req, &args, &res) ||
        !api_endpoint_of_path(ctx, req, principal, param, &endpoint, &res)) {
        return res;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_endpoint_deliveries(ctx->store, principal->tenant_id, param,
                                     args.all ? NULL : "FAILED", args.since_ms, args.until_ms,
                                     REPLAY_PAGE + 1, &docs, &n) != WC_STORE_OK) {
        bson_destroy(endpoint);
        return api_unavailable("the database");
    }
    bool more = n > REPLAY_PAGE;
    size_t take = more ? REPLAY_PAGE : n;
    int64_t continue_since = 0;
    if (more) {
        /* Go on after the last whole millisecond taken, so that the next
         * request neither skips nor repeats a delivery of the boundary. */
        int64_t last = wc_doc_date(docs[take - 1], "createdAt", 0);
        size_t whole = take;
        while (whole > 0 && wc_doc_date(docs[whole - 1], "createdAt", 0) == last) {
            whole--;
        }
        take = whole > 0 ? whole : take;
        continue_since = wc_doc_date(docs[take - 1], "createdAt", 0) + 1;
    }
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    bson_oid_t request_oid;
    bson_oid_init(&request_oid, NULL);
    char resend_key[25];
    bson_oid_to_string(&request_oid, resend_key);
    int64_t replayed = 0, resent = 0, failed = 0;
    bool db_failed = false;
    for (size_t i = 0; i < take && !db_failed; i++) {
        const char *s = wc_doc_string(docs[i], "status");
        bson_iter_t it;
        if (s != NULL && strcmp(s, "SENT") == 0) {
            if (resend(ctx, principal->tenant_id, docs[i], endpoint, param, resend_key)) {
                resent++;
            } else {
                failed++;
            }
        } else if (bson_iter_init_find(&it, docs[i], "_id") && BSON_ITER_HOLDS_OID(&it)) {
            bson_t *after = NULL;
            switch (api_replay_notification(ctx, principal->tenant_id, bson_iter_oid(&it), actor,
                                            false, &after)) {
            case API_REPLAY_QUEUED:
            case API_REPLAY_PENDING:
                replayed++;
                break;
            case API_REPLAY_DB_ERROR:
                db_failed = true;
                break;
            default: /* replayed or retried by someone else since it was read */
                break;
            }
            if (after != NULL) {
                bson_destroy(after);
            }
        }
    }
    wc_store_docs_free(docs, n);
    bson_destroy(endpoint);
    if (db_failed && replayed + resent == 0) {
        return api_unavailable("the database");
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "%s: %lld replayed, %lld sent again",
             args.all ? "ALL" : "FAILED", (long long)replayed, (long long)resent);
    api_audit(ctx, principal, "endpoint.replay", param, detail);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "replayed", json_object_new_int64(replayed));
    json_object_object_add(data, "resent", json_object_new_int64(resent));
    json_object_object_add(data, "notSent", json_object_new_int64(failed + (db_failed ? 1 : 0)));
    json_object_object_add(data, "more", json_object_new_boolean(more || db_failed));
    char when[WC_ISO8601_LEN];
    json_object_object_add(data, "continueSince",
                           more && wc_time_format_iso8601(continue_since, when, sizeof(when)) == 0
                               ? json_object_new_string(when)
                               : NULL);
    return api_ok(200, data, "Endpoint deliveries replayed");
}
