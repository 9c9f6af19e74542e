/*
 * GET /api/workers: each worker host's circuit breakers as the host last
 * reported them (worker_hosts; see wc_store_hosts.h), and how fresh that
 * report is. The breakers live in each host's shared memory, which the API
 * cannot see; a host that has not reported for STALE_INTERVALS of its own
 * report interval is shown as stale, because its breakers may have changed
 * since (or the host is gone) and an old "closed" must not pass for healthy.
 *
 * Breakers are per host, not per tenant: every role of every tenant reads the
 * same list, as it reads the queue depths.
 */
#include <string.h>

#include "dashboard.h"
#include "handlers.h"
#include "response.h"
#include "wc_store_hosts.h"
#include "wc_time.h"

#define STALE_INTERVALS 3

static json_object *iso_or_null(int64_t ms)
{
    char iso[WC_ISO8601_LEN];
    if (wc_time_format_iso8601(ms, iso, sizeof(iso)) != 0) {
        return NULL;
    }
    return json_object_new_string(iso);
}

/* The "breakers" array of a host's document, as the API shows it. Entries
 * without a name or state are skipped. */
static json_object *breakers_json(const bson_t *doc)
{
    json_object *out = json_object_new_array();
    bson_iter_t iter;
    bson_iter_t list;
    if (!bson_iter_init_find(&iter, doc, "breakers") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
        !bson_iter_recurse(&iter, &list)) {
        return out;
    }
    while (bson_iter_next(&list)) {
        bson_iter_t field;
        if (!BSON_ITER_HOLDS_DOCUMENT(&list) || !bson_iter_recurse(&list, &field)) {
            continue;
        }
        const char *name = NULL;
        const char *state = NULL;
        int64_t since = -1;
        while (bson_iter_next(&field)) {
            const char *key = bson_iter_key(&field);
            if (strcmp(key, "name") == 0 && BSON_ITER_HOLDS_UTF8(&field)) {
                name = bson_iter_utf8(&field, NULL);
            } else if (strcmp(key, "state") == 0 && BSON_ITER_HOLDS_UTF8(&field)) {
                state = bson_iter_utf8(&field, NULL);
            } else if (strcmp(key, "since") == 0 && BSON_ITER_HOLDS_DATE_TIME(&field)) {
                since = bson_iter_date_time(&field);
            }
        }
        if (name == NULL || state == NULL) {
            continue;
        }
        json_object *entry = json_object_new_object();
        json_object_object_add(entry, "name", json_object_new_string(name));
        json_object_object_add(entry, "state", json_object_new_string(state));
        json_object_object_add(entry, "since", since >= 0 ? iso_or_null(since) : NULL);
        json_object_array_add(out, entry);
    }
    return out;
}

/* How fresh a host's report is: false for a document without a string _id
 * or an updatedAt, which no worker writes. */
static bool host_freshness(const bson_t *doc, int64_t now_ms, int64_t *updated, int64_t *age,
                           bool *stale)
{
    bson_iter_t iter;
    if (wc_doc_string(doc, "_id") == NULL || !bson_iter_init_find(&iter, doc, "updatedAt") ||
        !BSON_ITER_HOLDS_DATE_TIME(&iter)) {
        return false;
    }
    *updated = bson_iter_date_time(&iter);
    int64_t interval = wc_doc_int(doc, "reportIntervalMs", 0);
    *age = now_ms > *updated ? now_ms - *updated : 0;
    /* A document without an interval cannot be judged fresh. */
    *stale = interval <= 0 || *age > STALE_INTERVALS * interval;
    return true;
}

/* One host as the API shows it; NULL for a document host_freshness refuses. */
static json_object *host_json(const bson_t *doc, int64_t now_ms)
{
    const char *id = wc_doc_string(doc, "_id");
    int64_t updated = 0, age = 0;
    bool stale = true;
    if (!host_freshness(doc, now_ms, &updated, &age, &stale)) {
        return NULL;
    }
    int64_t interval = wc_doc_int(doc, "reportIntervalMs", 0);

    json_object *host = json_object_new_object();
    json_object_object_add(host, "id", json_object_new_string(id));
    json_object_object_add(host, "children", json_object_new_int64(wc_doc_int(doc, "children", 0)));
    json_object_object_add(host, "reportIntervalMs", json_object_new_int64(interval));
    json_object_object_add(host, "updatedAt", iso_or_null(updated));
    json_object_object_add(host, "ageMs", json_object_new_int64(age));
    json_object_object_add(host, "stale", json_object_new_boolean(stale));
    json_object_object_add(host, "breakers", breakers_json(doc));
    return host;
}

api_response_t api_handle_workers(api_context_t *ctx, const api_request_t *req,
                                  const wc_principal_t *principal, const char *param)
{
    (void)principal;
    (void)param;
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_list_worker_hosts(ctx->store, &docs, &n) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    int64_t now = wc_time_now_ms();
    json_object *hosts = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *host = host_json(docs[i], now);
        if (host != NULL) {
            json_object_array_add(hosts, host);
        }
    }
    wc_store_docs_free(docs, n);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "hosts", hosts);
    json_object_object_add(data, "staleAfterIntervals", json_object_new_int(STALE_INTERVALS));
    return api_ok(200, data, NULL);
}

json_object *api_worker_hosts_summary(api_context_t *ctx)
{
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_list_worker_hosts(ctx->store, &docs, &n) != WC_STORE_OK) {
        return NULL;
    }
    int64_t now = wc_time_now_ms();
    int live = 0, stale_count = 0;
    json_object *hosts = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        int64_t updated = 0, age = 0;
        bool stale = true;
        if (!host_freshness(docs[i], now, &updated, &age, &stale)) {
            continue;
        }
        json_object *host = json_object_new_object();
        json_object_object_add(host, "id", json_object_new_string(wc_doc_string(docs[i], "_id")));
        json_object_object_add(host, "stale", json_object_new_boolean(stale));
        json_object_object_add(host, "ageMs", json_object_new_int64(age));
        json_object_object_add(host, "children",
                               json_object_new_int64(wc_doc_int(docs[i], "children", 0)));
        json_object_array_add(hosts, host);
        if (stale) {
            stale_count++;
        } else {
            live++;
        }
    }
    wc_store_docs_free(docs, n);
    json_object *summary = json_object_new_object();
    json_object_object_add(summary, "live", json_object_new_int(live));
    json_object_object_add(summary, "stale", json_object_new_int(stale_count));
    json_object_object_add(summary, "hosts", hosts);
    return summary;
}
