/*
 * A page of a tenant's documents by ?page=&limit=, in the order the store reads
 * them (the audit newest first, the templates by name): the shape of
 * GET /api/audit and GET /api/templates, which differ only in what they read
 * and how one document is shown.
 */
#ifndef API_DOC_PAGE_H
#define API_DOC_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "wc_store.h"

/* Reads up to `limit` documents of the tenant after skipping `skip`. */
typedef wc_store_status_t (*api_doc_page_read_t)(wc_store_t *store, const char *tenant_id,
                                                 int64_t skip, int64_t limit, bson_t ***docs_out,
                                                 size_t *n_out);

/* One document as the API shows it (a new reference). */
typedef json_object *(*api_doc_page_json_t)(const bson_t *doc);

/* 200 with {<items_key>: [...], page, limit}; 400 naming a bad or unknown
 * argument; 503 when the database cannot be read. */
api_response_t api_doc_page(api_context_t *ctx, const api_request_t *req,
                            const wc_principal_t *principal, const char *items_key,
                            api_doc_page_read_t read, api_doc_page_json_t to_json);

#endif
