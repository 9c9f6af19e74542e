#include "doc_page.h"

#include "query.h"
#include "response.h"

#define LIMIT_MAX 100
#define LIMIT_DEFAULT 50
#define PAGE_MAX 100000

static const char *const page_args[] = {"page", "limit", NULL};

api_response_t api_doc_page(api_context_t *ctx, const api_request_t *req,
                            const wc_principal_t *principal, const char *items_key,
                            api_doc_page_read_t read, api_doc_page_json_t to_json)
{
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, page_args, &q, &errs);
    int64_t page = api_query_int(&q, "page", 1, PAGE_MAX, 1, &errs);
    int64_t limit = api_query_int(&q, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &errs);
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (read(ctx->store, principal->tenant_id, (page - 1) * limit, limit, &docs, &n) !=
        WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *items = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(items, to_json(docs[i]));
    }
    wc_store_docs_free(docs, n);
    json_object *data = json_object_new_object();
    json_object_object_add(data, items_key, items);
    json_object_object_add(data, "page", json_object_new_int64(page));
    json_object_object_add(data, "limit", json_object_new_int64(limit));
    return api_ok(200, data, NULL);
}
