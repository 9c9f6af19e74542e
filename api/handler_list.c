/*
 * GET /api/notifications: a page of the tenant's notifications, newest first,
 * with the pagination object the WaveCom specification defines (see
 * docs/ARCHITECTURE.md §7). Query arguments: page (1..1,000,000,
 * default 1), limit (1..100, default 20), status, type, priority, and a
 * createdAt range: from (inclusive) and to (exclusive), RFC 3339.
 */
#include <string.h>

#include "handlers.h"
#include "query.h"
#include "response.h"
#include "wc_time.h"

#define PAGE_MAX 1000000
#define LIMIT_MAX 100
#define LIMIT_DEFAULT 20

static const char *const list_args[] = {"page", "limit", "status", "type", "priority",
                                        "from", "to",    NULL};

/* Parses an enum argument; -1 when absent. */
static int enum_arg(const api_query_t *q, const char *name, int (*parse)(const char *, int *),
                    const char *choices, wc_field_errors_t *errs)
{
    const char *text = api_query_get(q, name);
    int value = -1;
    if (text != NULL && parse(text, &value) != 0) {
        wc_field_errors_add(errs, name, "enum", "%s must be one of %s", name, choices);
        return -1;
    }
    return value;
}

static int parse_status(const char *s, int *out)
{
    wc_status_t v;
    int rc = wc_status_parse(s, &v);
    *out = (int)v;
    return rc;
}

static int parse_type(const char *s, int *out)
{
    wc_channel_t v;
    int rc = wc_channel_parse(s, &v);
    *out = (int)v;
    return rc;
}

static int parse_priority(const char *s, int *out)
{
    wc_priority_t v;
    int rc = wc_priority_parse(s, &v);
    *out = (int)v;
    return rc;
}

static int64_t date_arg(const api_query_t *q, const char *name, wc_field_errors_t *errs)
{
    const char *text = api_query_get(q, name);
    int64_t ms = -1;
    if (text != NULL && wc_time_parse_iso8601(text, &ms) != 0) {
        wc_field_errors_add(errs, name, "format",
                            "%s must be an RFC 3339 date-time with a zone, e.g. "
                            "2024-12-11T10:30:00Z",
                            name);
        return -1;
    }
    return ms;
}

API_HANDLER(api_handle_list_notifications)
{
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, list_args, &q, &errs);
    int64_t page = api_query_int(&q, "page", 1, PAGE_MAX, 1, &errs);
    int64_t limit = api_query_int(&q, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &errs);
    wc_list_query_t query = {
        .tenant_id = principal->tenant_id,
        .status = enum_arg(&q, "status", parse_status,
                           "PENDING, QUEUED, PROCESSING, SENT, FAILED, RETRYING, SCHEDULED, "
                           "CANCELLED",
                           &errs),
        .type = enum_arg(&q, "type", parse_type, "EMAIL, SMS, PUSH, WEBHOOK", &errs),
        .priority = enum_arg(&q, "priority", parse_priority, "LOW, MEDIUM, HIGH, CRITICAL", &errs),
        .created_from_ms = date_arg(&q, "from", &errs),
        .created_to_ms = date_arg(&q, "to", &errs),
        .skip = (page - 1) * limit,
        .limit = limit,
    };
    if (query.created_from_ms >= 0 && query.created_to_ms >= 0 &&
        query.created_from_ms >= query.created_to_ms) {
        wc_field_errors_add(&errs, "to", "range", "to must be later than from");
    }
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }

    bson_t **docs = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (wc_store_list_notifications(ctx->store, &query, &docs, &n, &total) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *items = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(items, wc_notification_to_api_json(docs[i]));
    }
    wc_store_docs_free(docs, n);

    json_object *pagination = json_object_new_object();
    json_object_object_add(pagination, "currentPage", json_object_new_int64(page));
    json_object_object_add(pagination, "totalPages",
                           json_object_new_int64((total + limit - 1) / limit));
    json_object_object_add(pagination, "totalItems", json_object_new_int64(total));
    json_object_object_add(pagination, "itemsPerPage", json_object_new_int64(limit));
    json_object *data = json_object_new_object();
    json_object_object_add(data, "notifications", items);
    json_object_object_add(data, "pagination", pagination);
    return api_ok(200, data, NULL);
}
