#include "wc_json.h"

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
    }
    json_tokener_free(tok);
    return value;
}
