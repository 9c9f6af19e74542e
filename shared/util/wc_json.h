/*
 * Conversions between json-c values and BSON documents.
 *
 * The API takes JSON from clients and stores BSON; it reads BSON back and
 * answers JSON. Client JSON is converted member by member (never through
 * libbson's extended-JSON parser, which would turn {"$date": ...} inside a
 * client's metadata into a date).
 */
#ifndef WC_JSON_H
#define WC_JSON_H

#include <bson/bson.h>
#include <json-c/json.h>
#include <stdbool.h>

/* Appends `value` to `parent` under `key`. Objects become documents, arrays
 * arrays, numbers int64 or double. Returns false if BSON refuses a key. */
bool wc_json_append_to_bson(bson_t *parent, const char *key, int key_len, json_object *value);

/* Converts the BSON value under `iter` to JSON: ObjectIds become their hex
 * string, dates ISO 8601 strings. Returns a new reference (NULL for BSON
 * null or undefined). */
json_object *wc_json_from_bson_value(const bson_iter_t *iter);

/* Converts a whole document. Returns a new reference. */
json_object *wc_json_from_bson(const bson_t *doc);

/* Parses a request body strictly: valid UTF-8, bounded nesting, nothing after
 * the value, no NUL character (\u0000) in an object key (json-c would cut the
 * key short, silently merging "a\u0000b" into "a"). Returns a new reference,
 * or NULL with a short reason in `why`. */
json_object *wc_json_parse_strict(const char *text, size_t len, const char **why);

/* The canonical text of `value`: compact, object keys sorted bytewise at every
 * level, numbers as the client wrote them. Two bodies that differ only in key
 * order or whitespace have the same canonical text, so its hash identifies a
 * request (Idempotency-Key). Returns a string the caller frees, or NULL when
 * out of memory. */
char *wc_json_canonical(json_object *value, size_t *len);

/* Whether a number survives storage unchanged: integers within int64 (json-c
 * clamps larger ones to the int64/uint64 limits, so the limits themselves are
 * refused too), decimals finite (1e400 parses as infinity, which MongoDB
 * refuses). True for anything that is not a number. */
bool wc_json_number_storable(json_object *value);

/* A time as the API shows it: an ISO 8601 string of Unix milliseconds `ms`, or
 * NULL (JSON null) when `ms` is 0 or less (never set). */
json_object *wc_json_date(int64_t ms);

#endif
