/*
 * Message templates (collection "templates", docs/ARCHITECTURE.md §15): one
 * document per template of a tenant, holding every version of its content,
 *
 *   {_id: ObjectId, tenantId, name, version: <the latest>, createdAt,
 *    updatedAt, versions: [{version, createdAt, content}, ...]}
 *
 * where `content` is the version's JSON text as the API validated it (kept as
 * text: a webhook body's keys may hold characters BSON field names may not).
 * A version is never changed once written: an edit appends the next one, so
 * a notification naming (template, version) can always be explained.
 */
#ifndef WC_STORE_TEMPLATES_H
#define WC_STORE_TEMPLATES_H

#include "wc_store.h"

/* How many versions a template keeps; an edit past it is refused (CONFLICT). */
#define WC_TEMPLATE_VERSIONS_MAX 100

/* The unique index on (tenantId, name): one template per purpose. */
wc_store_status_t wc_store_ensure_template_indexes(wc_store_t *store);

/* Creates template `id` of `tenant_id` named `name`, its version 1 holding
 * `content`. CONFLICT when the tenant has a template of that name. */
wc_store_status_t wc_store_template_create(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, const char *name,
                                           const char *content, int64_t now_ms);

/* Template `id` of `tenant_id`, every version included. On OK *out is a new
 * document the caller destroys; NOT_FOUND when there is none. */
wc_store_status_t wc_store_template_get(wc_store_t *store, const char *tenant_id,
                                        const bson_oid_t *id, bson_t **out);

/* The content text and creation time of version `version` of the template
 * document `doc` (0: the latest); borrowed from `doc`. NULL when it has no
 * such version. *version_out is the version found. */
const char *wc_template_version_content(const bson_t *doc, int64_t version, int64_t *version_out,
                                        int64_t *created_ms);

/* Appends `content` as version `current + 1` of template `id`. CONFLICT when
 * the template is no longer at version `current` (another edit came first) or
 * already has WC_TEMPLATE_VERSIONS_MAX versions; NOT_FOUND when it is gone. */
wc_store_status_t wc_store_template_add_version(wc_store_t *store, const char *tenant_id,
                                                const bson_oid_t *id, int64_t current,
                                                const char *content, int64_t now_ms);

/* Up to `limit` templates of `tenant_id` after skipping `skip`, by name,
 * without their versions. Free *docs with wc_store_docs_free. */
wc_store_status_t wc_store_template_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                         int64_t limit, bson_t ***docs, size_t *n);

/* Deletes template `id` with every version. NOT_FOUND when there is none. */
wc_store_status_t wc_store_template_delete(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id);

#endif
