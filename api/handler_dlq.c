/*
 * The dead-letter queue as the dashboard sees it: the tenant's FAILED
 * notifications, each with why it failed, and their replay.
 *
 * GET /api/dlq lists from the database, the source of truth, not from the
 * broker's DLQ: the broker's queue holds every tenant's messages and can only
 * be read by taking them. POST /api/dlq/replay {"ids": [..], "keepAttempts":
 * false} does what `wavecomctl dlq replay` does per notification, through the
 * same store operation: FAILED -> QUEUED with its audit entry, then the
 * message published to its priority queue and confirmed. The notification's
 * old copy stays in the broker's DLQ (the queue cannot give up one message by
 * id); it is stale, and the next `wavecomctl dlq replay` or `purge` finds
 * the notification no longer FAILED and drops it.
 *
 * A replay interrupted between its two steps leaves the notification QUEUED
 * without a message; replaying it again publishes it ("republished"), as the
 * CLI does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "list_cache.h"
#include "replay.h"
#include "query.h"
#include "response.h"
#include "wc_json.h"
#include "wc_store_ops.h"
#include "wc_time.h"
#include "wc_topology.h"

#define LIMIT_MAX 100
#define LIMIT_DEFAULT 20
#define PAGE_MAX 1000000
#define REPLAY_MAX_IDS 100

static const char *const dlq_args[] = {"page", "limit", "type", NULL};

/* The page of failed notifications and its pagination, or NULL when the
 * database did not answer. */
static json_object *dlq_page(api_context_t *ctx, const wc_list_query_t *query, int64_t page,
                             int64_t limit)
{
    wc_list_page_t result;
    if (wc_store_list_notifications(ctx->store, query, &result) != WC_STORE_OK) {
        return NULL;
    }
    json_object *items = json_object_new_array_ext((int)result.n);
    for (size_t i = 0; i < result.n; i++) {
        json_object_array_add(items, wc_notification_to_api_json(result.docs[i]));
    }
    int64_t total = result.total;
    wc_list_page_free(&result);
    json_object *pagination = json_object_new_object();
    json_object_object_add(pagination, "currentPage", json_object_new_int64(page));
    json_object_object_add(pagination, "totalPages",
                           json_object_new_int64((total + limit - 1) / limit));
    json_object_object_add(pagination, "totalItems", json_object_new_int64(total));
    json_object_object_add(pagination, "itemsPerPage", json_object_new_int64(limit));
    json_object *data = json_object_new_object();
    json_object_object_add(data, "notifications", items);
    json_object_object_add(data, "pagination", pagination);
    return data;
}

api_response_t api_handle_dlq_list(api_context_t *ctx, const api_request_t *req,
                                   const wc_principal_t *principal, const char *param)
{
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, dlq_args, &q, &errs);
    int64_t page = api_query_int(&q, "page", 1, PAGE_MAX, 1, &errs);
    int64_t limit = api_query_int(&q, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &errs);
    wc_channel_t type = WC_CHANNEL_EMAIL;
    const char *type_text = api_query_get(&q, "type");
    if (type_text != NULL && wc_channel_parse(type_text, &type) != 0) {
        wc_field_errors_add(&errs, "type", "enum", "type must be one of EMAIL, SMS, PUSH, WEBHOOK");
    }
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    wc_list_query_t query = {
        .tenant_id = principal->tenant_id,
        .status = WC_STATUS_FAILED,
        .type = type_text != NULL ? (int)type : -1,
        .priority = -1,
        .created_from_ms = -1,
        .created_to_ms = -1,
        .skip = (page - 1) * limit,
        .limit = limit,
    };
    api_list_key_t key;
    api_list_key(ctx, "dlq", &query, &key);
    json_object *data = api_list_cached(ctx, &key);
    if (data == NULL) {
        api_list_prepare(ctx, &key, &query);
        data = dlq_page(ctx, &query, page, limit);
        if (data == NULL) {
            return api_unavailable("the database");
        }
        api_list_remember(ctx, &key, data);
    }
    api_queue_depths_t depths;
    api_publisher_queue_depths(ctx->publisher, &depths);
    /* Messages in the broker's DLQ, of every tenant, stale copies included. */
    json_object_object_add(data, "queueDepth",
                           depths.dlq >= 0 ? json_object_new_int64(depths.dlq) : NULL);
    return api_ok(200, data, NULL);
}

/* ---- replay ---- */

typedef struct {
    bson_oid_t ids[REPLAY_MAX_IDS];
    char id_text[REPLAY_MAX_IDS][25];
    size_t n;
    bool keep_attempts;
} replay_request_t;

/* Reads {"ids": [..], "keepAttempts": bool}; false with the 4xx in *res. */
static bool parse_replay(const api_request_t *req, replay_request_t *out, api_response_t *res)
{
    memset(out, 0, sizeof(*out));
    json_object *body = NULL;
    if (!api_parse_json_body(req, &body, res)) {
        return false;
    }
    wc_field_errors_t errs = {0};
    json_object *ids = NULL;
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(&errs, "body", "type", "the body must be an object {\"ids\": [..]}");
    } else {
        json_object_object_foreach(body, key, value)
        {
            if (strcmp(key, "ids") == 0) {
                ids = value;
            } else if (strcmp(key, "keepAttempts") == 0) {
                if (!json_object_is_type(value, json_type_boolean)) {
                    wc_field_errors_add(&errs, "keepAttempts", "type",
                                        "keepAttempts must be true or false");
                }
                out->keep_attempts = json_object_get_boolean(value);
            } else {
                wc_field_errors_add(&errs, key, "unknown", "unknown field \"%.40s\"", key);
            }
        }
        if (ids == NULL) {
            wc_field_errors_add(&errs, "ids", "required", "ids is required");
        } else if (!json_object_is_type(ids, json_type_array)) {
            wc_field_errors_add(&errs, "ids", "type", "ids must be an array of notification ids");
        } else if (json_object_array_length(ids) == 0 ||
                   json_object_array_length(ids) > REPLAY_MAX_IDS) {
            wc_field_errors_add(&errs, "ids", "length", "ids must hold 1 to %d ids",
                                REPLAY_MAX_IDS);
        } else {
            for (size_t i = 0; i < json_object_array_length(ids); i++) {
                json_object *v = json_object_array_get_idx(ids, i);
                const char *s = json_object_get_string(v);
                char field[32];
                snprintf(field, sizeof(field), "ids[%zu]", i);
                if (!json_object_is_type(v, json_type_string) || strlen(s) != 24 ||
                    !bson_oid_is_valid(s, 24)) {
                    wc_field_errors_add(&errs, field, "objectid",
                                        "%s must be a notification id (24 hex digits)", field);
                    continue;
                }
                bool repeated = false;
                for (size_t j = 0; j < out->n && !repeated; j++) {
                    repeated = strcmp(out->id_text[j], s) == 0;
                }
                if (repeated) {
                    wc_field_errors_add(&errs, field, "duplicate", "%s repeats an earlier id", field);
                    continue;
                }
                bson_oid_init_from_string(&out->ids[out->n], s);
                memcpy(out->id_text[out->n], s, 25);
                out->n++;
            }
        }
    }
    json_object_put(body);
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return false;
    }
    return true;
}

static void add_result(json_object *results, const char *id, const char *outcome,
                       const char *status)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "id", json_object_new_string(id));
    json_object_object_add(r, "outcome", json_object_new_string(outcome));
    json_object_object_add(r, "status", status != NULL ? json_object_new_string(status) : NULL);
    json_object_array_add(results, r);
}

api_response_t api_handle_dlq_replay(api_context_t *ctx, const api_request_t *req,
                                     const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    replay_request_t *rq = calloc(1, sizeof(*rq));
    if (rq == NULL) {
        return api_error(503, "out of memory");
    }
    if (!api_no_query(req, &res) || !parse_replay(req, rq, &res)) {
        free(rq);
        return res;
    }
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    json_object *results = json_object_new_array();
    int64_t replayed = 0;
    for (size_t i = 0; i < rq->n; i++) {
        const char *id = rq->id_text[i];
        bson_t *doc = NULL;
        api_replay_result_t r =
            api_replay_notification(ctx, principal->tenant_id, &rq->ids[i], actor,
                                    rq->keep_attempts, &doc);
        const char *status = doc != NULL ? wc_doc_string(doc, "status") : NULL;
        switch (r) {
        case API_REPLAY_QUEUED:
        case API_REPLAY_PENDING:
            /* The state the replay left it in (a worker may have moved on
             * since): QUEUED, or PENDING when its publish failed and the
             * sweep will send it. */
            api_audit(ctx, principal, "notification.replay", id, NULL);
            add_result(results, id, "replayed", r == API_REPLAY_QUEUED ? "QUEUED" : "PENDING");
            replayed++;
            break;
        case API_REPLAY_NOT_FAILED:
            add_result(results, id, "not_failed", status);
            break;
        case API_REPLAY_NOT_FOUND:
            add_result(results, id, "not_found", NULL);
            break;
        case API_REPLAY_DB_ERROR:
            if (doc != NULL) {
                bson_destroy(doc);
            }
            json_object_put(results);
            free(rq);
            return api_unavailable("the database");
        }
        if (doc != NULL) {
            bson_destroy(doc);
        }
    }
    free(rq);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "replayed", json_object_new_int64(replayed));
    json_object_object_add(data, "results", results);
    return api_ok(200, data, NULL);
}
