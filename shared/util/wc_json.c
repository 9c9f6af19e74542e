#include "wc_json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wc_time.h"

/* Deeper client JSON is refused: nothing we accept needs it, and recursion
 * depth must be bounded for hostile input. */
#define WC_JSON_MAX_DEPTH 16

bool wc_json_append_to_bson(bson_t *parent, const char *key, int key_len, json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return bson_append_null(parent, key, key_len);
    case json_type_boolean:
        return bson_append_bool(parent, key, key_len, json_object_get_boolean(value));
    case json_type_int:
        return bson_append_int64(parent, key, key_len, json_object_get_int64(value));
    case json_type_double:
        return bson_append_double(parent, key, key_len, json_object_get_double(value));
    case json_type_string:
        return bson_append_utf8(parent, key, key_len, json_object_get_string(value),
                                json_object_get_string_len(value));
    case json_type_object: {
        bson_t child;
        if (!bson_append_document_begin(parent, key, key_len, &child)) {
            return false;
        }
        bool ok = true;
        json_object_object_foreach(value, k, v)
        {
            ok = ok && wc_json_append_to_bson(&child, k, -1, v);
        }
        return bson_append_document_end(parent, &child) && ok;
    }
    case json_type_array: {
        bson_t child;
        if (!bson_append_array_begin(parent, key, key_len, &child)) {
            return false;
        }
        bool ok = true;
        size_t n = json_object_array_length(value);
        for (size_t i = 0; i < n && ok; i++) {
            char idx[16];
            const char *idx_key;
            size_t idx_len = bson_uint32_to_string((uint32_t)i, &idx_key, idx, sizeof(idx));
            ok = wc_json_append_to_bson(&child, idx_key, (int)idx_len,
                                        json_object_array_get_idx(value, i));
        }
        return bson_append_array_end(parent, &child) && ok;
    }
    }
    return false;
}

json_object *wc_json_from_bson_value(const bson_iter_t *iter)
{
    switch (bson_iter_type(iter)) {
    case BSON_TYPE_UTF8: {
        uint32_t len = 0;
        const char *s = bson_iter_utf8(iter, &len);
        return json_object_new_string_len(s, (int)len);
    }
    case BSON_TYPE_INT32:
        return json_object_new_int64(bson_iter_int32(iter));
    case BSON_TYPE_INT64:
        return json_object_new_int64(bson_iter_int64(iter));
    case BSON_TYPE_DOUBLE:
        return json_object_new_double(bson_iter_double(iter));
    case BSON_TYPE_BOOL:
        return json_object_new_boolean(bson_iter_bool(iter));
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(iter), hex);
        return json_object_new_string(hex);
    }
    case BSON_TYPE_DATE_TIME: {
        char ts[WC_ISO8601_LEN];
        if (wc_time_format_iso8601(bson_iter_date_time(iter), ts, sizeof(ts)) != 0) {
            return NULL;
        }
        return json_object_new_string(ts);
    }
    case BSON_TYPE_DOCUMENT: {
        bson_iter_t child;
        json_object *obj = json_object_new_object();
        if (bson_iter_recurse(iter, &child)) {
            while (bson_iter_next(&child)) {
                json_object_object_add(obj, bson_iter_key(&child), wc_json_from_bson_value(&child));
            }
        }
        return obj;
    }
    case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        json_object *arr = json_object_new_array();
        if (bson_iter_recurse(iter, &child)) {
            while (bson_iter_next(&child)) {
                json_object_array_add(arr, wc_json_from_bson_value(&child));
            }
        }
        return arr;
    }
    default:
        return NULL;
    }
}

json_object *wc_json_from_bson(const bson_t *doc)
{
    json_object *obj = json_object_new_object();
    bson_iter_t iter;
    if (bson_iter_init(&iter, doc)) {
        while (bson_iter_next(&iter)) {
            json_object_object_add(obj, bson_iter_key(&iter), wc_json_from_bson_value(&iter));
        }
    }
    return obj;
}

/* True when a string of `text` (already parsed as strict JSON, so strings are
 * well formed) that is followed by ':' -- an object key -- contains the escape
 * \u0000. Only string boundaries and escapes are tracked; nothing else. */
static bool has_nul_key(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (text[i] != '"') {
            i++;
            continue;
        }
        bool nul = false;
        for (i++; i < len && text[i] != '"'; i++) {
            if (text[i] != '\\') {
                continue;
            }
            if (i + 5 < len && text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0) {
                nul = true;
            }
            i++; /* the escaped character; \uXXXX digits are plain characters after it */
        }
        i++; /* the closing quote */
        size_t j = i;
        while (j < len && strchr(" \t\r\n", text[j]) != NULL) {
            j++;
        }
        if (nul && j < len && text[j] == ':') {
            return true;
        }
    }
    return false;
}

json_object *wc_json_parse_strict(const char *text, size_t len, const char **why)
{
    *why = NULL;
    if (len > (size_t)INT32_MAX) {
        *why = "body too large";
        return NULL;
    }
    if (memchr(text, '\0', len) != NULL) {
        *why = "NUL byte in body";
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(WC_JSON_MAX_DEPTH);
    if (tok == NULL) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *value = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);

    if (value == NULL || jerr != json_tokener_success) {
        *why = jerr == json_tokener_continue ? "unexpected end of input"
                                             : json_tokener_error_desc(jerr);
        json_object_put(value);
        value = NULL;
    } else {
        /* Only whitespace may follow the value. */
        for (size_t i = used; i < len; i++) {
            if (strchr(" \t\r\n", text[i]) == NULL) {
                *why = "unexpected data after the JSON value";
                json_object_put(value);
                value = NULL;
                break;
            }
        }
        if (value != NULL && has_nul_key(text, len)) {
            *why = "NUL character (\\u0000) in an object key";
            json_object_put(value);
            value = NULL;
        }
    }
    json_tokener_free(tok);
    return value;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of `value` whose objects have their keys in sorted order. */
static json_object *sorted_copy(json_object *value)
{
    if (json_object_is_type(value, json_type_array)) {
        size_t n = json_object_array_length(value);
        json_object *arr = json_object_new_array_ext((int)n);
        for (size_t i = 0; arr != NULL && i < n; i++) {
            json_object *item = json_object_array_get_idx(value, i);
            json_object *copy = item != NULL ? sorted_copy(item) : NULL;
            if (item != NULL && copy == NULL) {
                json_object_put(arr);
                return NULL;
            }
            json_object_array_add(arr, copy);
        }
        return arr;
    }
    if (!json_object_is_type(value, json_type_object)) {
        json_object *copy = NULL;
        return json_object_deep_copy(value, &copy, NULL) == 0 ? copy : NULL;
    }
    size_t n = (size_t)json_object_object_length(value);
    const char **keys = calloc(n > 0 ? n : 1, sizeof(*keys));
    json_object *obj = json_object_new_object();
    if (keys == NULL || obj == NULL) {
        free(keys);
        json_object_put(obj);
        return NULL;
    }
    size_t k = 0;
    json_object_object_foreach(value, key, unused)
    {
        (void)unused;
        keys[k++] = key;
    }
    qsort(keys, n, sizeof(*keys), compare_keys);
    for (size_t i = 0; i < n; i++) {
        json_object *member = json_object_object_get(value, keys[i]);
        json_object *copy = member != NULL ? sorted_copy(member) : NULL;
        if (member != NULL && copy == NULL) {
            json_object_put(obj);
            obj = NULL;
            break;
        }
        json_object_object_add(obj, keys[i], copy);
    }
    free(keys);
    return obj;
}

char *wc_json_canonical(json_object *value, size_t *len)
{
    json_object *sorted = value != NULL ? sorted_copy(value) : NULL;
    if (value != NULL && sorted == NULL) {
        return NULL;
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        sorted, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *copy = malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, text, n + 1);
        *len = n;
    }
    json_object_put(sorted);
    return copy;
}

bool wc_json_number_storable(json_object *value)
{
    if (json_object_is_type(value, json_type_double)) {
        return isfinite(json_object_get_double(value));
    }
    if (json_object_is_type(value, json_type_int)) {
        int64_t v = json_object_get_int64(value);
        return v != INT64_MAX && v != INT64_MIN;
    }
    return true;
}

json_object *wc_json_date(int64_t ms)
{
    char text[WC_ISO8601_LEN];
    return ms > 0 && wc_time_format_iso8601(ms, text, sizeof(text)) == 0
               ? json_object_new_string(text)
               : NULL;
}
