/*
 * GET /api/keys: the tenant's API keys with their last use, their counts of
 * the last 30 days, their quota and whether they are stale.
 * GET /api/usage?from=&to=&apiKey=: the tenant's usage per UTC day and key.
 * Admins only (router.c); the counts come from api_key_usage
 * (docs/ARCHITECTURE.md §13) and lag the traffic by up to one
 * WAVECOM_USAGE_FLUSH_SECONDS of every API instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "query.h"
#include "response.h"
#include "wc_json.h"
#include "wc_store_ops.h"
#include "wc_store_quota.h"
#include "wc_store_usage.h"
#include "wc_time.h"

/* The longest range one usage answer covers, and the most key-days it reads. */
#define USAGE_RANGE_DAYS_MAX 366
#define USAGE_DEFAULT_DAYS 30
#define USAGE_ROWS_MAX 100000

static const char *const usage_args[] = {"from", "to", "apiKey", NULL};

static json_object *quota_json(const bson_t *doc)
{
    wc_quota_t q;
    wc_quota_from_doc(doc, &q);
    if (!wc_quota_any(&q)) {
        return NULL;
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "monthly", q.monthly >= 0 ? json_object_new_int64(q.monthly) : NULL);
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        json_object_object_add(obj, wc_channel_name((wc_channel_t)c),
                               q.channel[c] >= 0 ? json_object_new_int64(q.channel[c]) : NULL);
    }
    return obj;
}

api_response_t api_handle_keys(api_context_t *ctx, const api_request_t *req,
                               const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    int64_t now = wc_time_now_ms();
    bson_t **docs = NULL;
    size_t n = 0;
    wc_usage_summary_t *sums = NULL;
    size_t n_sums = 0;
    if (wc_store_list_api_keys(ctx->store, principal->tenant_id, &docs, &n) != WC_STORE_OK ||
        wc_store_usage_summaries(ctx->store, principal->tenant_id, now,
                                 ctx->cfg->usage_retention_days, &sums, &n_sums) != WC_STORE_OK) {
        wc_store_docs_free(docs, n);
        return api_unavailable("the database");
    }
    json_object *keys = json_object_new_array_ext((int)n);
    int stale_count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *hint = wc_doc_string(docs[i], "hint");
        const char *role = wc_doc_string(docs[i], "role");
        const char *name = wc_doc_string(docs[i], "name");
        bson_iter_t it;
        bool revoked = bson_iter_init_find(&it, docs[i], "revoked") && BSON_ITER_HOLDS_BOOL(&it) &&
                       bson_iter_bool(&it);
        int64_t created = wc_doc_date(docs[i], "createdAt", 0);
        const wc_usage_summary_t *s = wc_usage_summary_find(sums, n_sums, hint);
        int64_t last = s != NULL ? s->last_at_ms : 0;
        bool stale = !revoked && wc_usage_key_is_stale(created, last, now);
        stale_count += stale;
        json_object *k = json_object_new_object();
        json_object_object_add(k, "hint", json_object_new_string(hint != NULL ? hint : ""));
        json_object_object_add(k, "role", json_object_new_string(role != NULL ? role : ""));
        json_object_object_add(k, "name", json_object_new_string(name != NULL ? name : ""));
        json_object_object_add(k, "revoked", json_object_new_boolean(revoked));
        json_object_object_add(k, "createdAt", wc_json_date(created));
        json_object_object_add(k, "lastUsedAt", wc_json_date(last));
        json_object_object_add(k, "lastUsedFrom",
                               last > 0 ? json_object_new_string(s->last_from) : NULL);
        json_object_object_add(k, "requests30d", json_object_new_int64(s ? s->requests : 0));
        json_object_object_add(k, "accepted30d", json_object_new_int64(s ? s->accepted : 0));
        json_object_object_add(k, "refused30d", json_object_new_int64(s ? s->refused : 0));
        json_object_object_add(k, "stale", json_object_new_boolean(stale));
        json_object_object_add(k, "quota", quota_json(docs[i]));
        json_object_array_add(keys, k);
    }
    wc_store_docs_free(docs, n);
    free(sums);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "keys", keys);
    json_object_object_add(data, "staleKeys", json_object_new_int(stale_count));
    return api_ok(200, data, NULL);
}

/* A "YYYY-MM-DD" argument; `fallback` when absent, -1 after an error. */
static int64_t day_arg(const api_query_t *q, const char *name, int64_t fallback,
                       wc_field_errors_t *errs)
{
    const char *text = api_query_get(q, name);
    int64_t ms = fallback;
    if (text != NULL && wc_usage_day_parse(text, &ms) != 0) {
        wc_field_errors_add(errs, name, "format", "%s must be a day, YYYY-MM-DD (UTC)", name);
        return -1;
    }
    return ms;
}

/* A key hint: "wck_" and 8 lowercase hex digits. */
api_response_t api_handle_usage(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param)
{
    (void)param;
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, usage_args, &q, &errs);
    int64_t now = wc_time_now_ms();
    int64_t today = now - now % WC_DAY_MS;
    int64_t to = day_arg(&q, "to", today, &errs);
    int64_t from = day_arg(&q, "from", to >= 0 ? to - (USAGE_DEFAULT_DAYS - 1) * WC_DAY_MS : -1,
                           &errs);
    const char *hint = api_query_key_hint(&q, &errs);
    if (from >= 0 && to >= 0 && from > to) {
        wc_field_errors_add(&errs, "to", "range", "to must not be before from");
    } else if (from >= 0 && to >= 0 && (to - from) / WC_DAY_MS >= USAGE_RANGE_DAYS_MAX) {
        wc_field_errors_add(&errs, "from", "range", "from and to may be at most %d days apart",
                            USAGE_RANGE_DAYS_MAX);
    }
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    wc_usage_day_t *days = NULL;
    size_t n = 0;
    if (wc_store_usage_read(ctx->store, principal->tenant_id, NULL, from, to, USAGE_ROWS_MAX, &days,
                            &n) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *rows = json_object_new_array();
    int64_t requests[WC_USAGE_CLASS_COUNT] = {0}, accepted[WC_CHANNEL_COUNT] = {0},
            refused[WC_REFUSED_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const wc_usage_day_t *d = &days[i];
        if (hint != NULL && strcmp(d->hint, hint) != 0) {
            continue;
        }
        char day[11];
        wc_usage_day_name(d->day_ms, day);
        json_object *row = json_object_new_object();
        json_object_object_add(row, "day", json_object_new_string(day));
        json_object_object_add(row, "apiKey", json_object_new_string(d->hint));
        wc_usage_add_counts_json(row, d->requests, d->accepted, d->refused);
        json_object_object_add(row, "lastUseAt", wc_json_date(d->last_at_ms));
        json_object_array_add(rows, row);
        for (int c = 0; c < WC_USAGE_CLASS_COUNT; c++) {
            requests[c] += d->requests[c];
        }
        for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
            accepted[c] += d->accepted[c];
        }
        for (int c = 0; c < WC_REFUSED_COUNT; c++) {
            refused[c] += d->refused[c];
        }
    }
    free(days);
    char from_text[11], to_text[11];
    wc_usage_day_name(from, from_text);
    wc_usage_day_name(to, to_text);
    json_object *totals = json_object_new_object();
    wc_usage_add_counts_json(totals, requests, accepted, refused);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "from", json_object_new_string(from_text));
    json_object_object_add(data, "to", json_object_new_string(to_text));
    json_object_object_add(data, "days", rows);
    json_object_object_add(data, "totals", totals);
    json_object_object_add(data, "truncated", json_object_new_boolean(n >= USAGE_ROWS_MAX));
    return api_ok(200, data, NULL);
}
