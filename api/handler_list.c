/*
 * GET /api/notifications: a page of the tenant's notifications, newest first,
 * with the pagination object the WaveCom specification defines (see
 * docs/ARCHITECTURE.md §7). Query arguments: page (1..1,000,000, default 1),
 * limit (1..100, default 20), status, type, priority, a createdAt range: from
 * (inclusive) and to (exclusive), RFC 3339; apiKey (a key hint: only what
 * that key created);
 * and the keyset cursors `before` / `after` (a nextCursor / prevCursor of an
 * earlier answer), which replace page.
 *
 * A page number is a position: while notifications arrive, page 2 shifts
 * and shows again what page 1 showed. A cursor is a place: `before` answers
 * the items just older than the item it names, whatever arrived since, so
 * following nextCursor visits every item exactly once. Both cost the same
 * (the list skips whole counter buckets, wc_store_list.c).
 */
#include <string.h>

#include "handlers.h"
#include "list_cache.h"
#include "query.h"
#include "response.h"
#include "wc_time.h"

#define PAGE_MAX 1000000
#define LIMIT_MAX 100
#define LIMIT_DEFAULT 20

static const char *const list_args[] = {"page", "limit",  "status", "type",   "priority",
                                        "from", "to",     "before", "after",  "apiKey",
                                        NULL};

/* Reads the `before` or `after` cursor into the query; false when absent. */
static bool cursor_arg(const api_query_t *q, const char *name, wc_list_mode_t mode,
                       wc_list_query_t *query, wc_field_errors_t *errs)
{
    const char *text = api_query_get(q, name);
    if (text == NULL) {
        return false;
    }
    if (wc_list_cursor_parse(text, &query->cursor_ms, &query->cursor_id) != 0) {
        wc_field_errors_add(errs, name, "format",
                            "%s must be a cursor from pagination.nextCursor or prevCursor", name);
        return false;
    }
    query->mode = mode;
    return true;
}

static json_object *cursor_json(const bson_t *doc)
{
    bson_iter_t it;
    int64_t ms = 0;
    if (!bson_iter_init_find(&it, doc, "createdAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) {
        return NULL;
    }
    ms = bson_iter_date_time(&it);
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
        return NULL;
    }
    char text[WC_LIST_CURSOR_LEN];
    wc_list_cursor_format(ms, bson_iter_oid(&it), text);
    return json_object_new_string(text);
}

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

api_response_t api_handle_list_notifications(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param)
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
                           "CANCELLED, SUPPRESSED",
                           &errs),
        .type = enum_arg(&q, "type", parse_type, "EMAIL, SMS, PUSH, WEBHOOK", &errs),
        .priority = enum_arg(&q, "priority", parse_priority, "LOW, MEDIUM, HIGH, CRITICAL", &errs),
        .created_from_ms = date_arg(&q, "from", &errs),
        .created_to_ms = date_arg(&q, "to", &errs),
        .key_hint = api_query_key_hint(&q, &errs),
        .skip = (page - 1) * limit,
        .limit = limit,
    };
    bool before = cursor_arg(&q, "before", WC_LIST_BEFORE, &query, &errs);
    bool after = cursor_arg(&q, "after", WC_LIST_AFTER, &query, &errs);
    if (before && after) {
        wc_field_errors_add(&errs, "after", "exclusive", "give before or after, not both");
    }
    if ((before || after) && api_query_get(&q, "page") != NULL) {
        wc_field_errors_add(&errs, "page", "exclusive", "a cursor replaces page; give one");
    }
    if (query.created_from_ms >= 0 && query.created_to_ms >= 0 &&
        query.created_from_ms >= query.created_to_ms) {
        wc_field_errors_add(&errs, "to", "range", "to must be later than from");
    }
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }

    api_list_key_t key;
    api_list_key(ctx, "list", &query, &key);
    json_object *cached = api_list_cached(ctx, &key);
    if (cached != NULL) {
        return api_ok(200, cached, NULL);
    }
    api_list_prepare(ctx, &key, &query);
    wc_list_page_t result;
    if (wc_store_list_notifications(ctx->store, &query, &result) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *items = json_object_new_array_ext((int)result.n);
    for (size_t i = 0; i < result.n; i++) {
        json_object_array_add(items, wc_notification_to_api_json(result.docs[i]));
    }
    /* nextCursor reads on towards older items, prevCursor towards newer. */
    bool older = query.mode == WC_LIST_AFTER ? true : result.more;
    bool newer = query.mode == WC_LIST_AFTER ? result.more
                                             : (query.mode == WC_LIST_BEFORE || page > 1);
    json_object *next = result.n > 0 && older ? cursor_json(result.docs[result.n - 1]) : NULL;
    json_object *prev = result.n > 0 && newer ? cursor_json(result.docs[0]) : NULL;
    int64_t total = result.total;
    wc_list_page_free(&result);

    json_object *pagination = json_object_new_object();
    json_object_object_add(pagination, "currentPage",
                           query.mode == WC_LIST_PAGE ? json_object_new_int64(page) : NULL);
    json_object_object_add(pagination, "totalPages",
                           json_object_new_int64((total + limit - 1) / limit));
    json_object_object_add(pagination, "totalItems", json_object_new_int64(total));
    json_object_object_add(pagination, "itemsPerPage", json_object_new_int64(limit));
    json_object_object_add(pagination, "nextCursor", next);
    json_object_object_add(pagination, "prevCursor", prev);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "notifications", items);
    json_object_object_add(data, "pagination", pagination);
    api_list_remember(ctx, &key, data);
    return api_ok(200, data, NULL);
}
