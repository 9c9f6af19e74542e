#include "wc_event_filter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The comparison operators of a leaf, one row each: the check and the
 * evaluation both read this table. */
typedef enum { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_EXISTS } op_t;

static const struct {
    const char *name;
    op_t op;
} operators[] = {
    {"eq", OP_EQ}, {"ne", OP_NE},   {"gt", OP_GT}, {"gte", OP_GTE},
    {"lt", OP_LT}, {"lte", OP_LTE}, {"in", OP_IN}, {"exists", OP_EXISTS},
};

#define OPERATOR_COUNT (sizeof(operators) / sizeof(operators[0]))

typedef struct {
    wc_field_errors_t *errs;
    int nodes;
} check_t;

static bool refuse(check_t *c, const char *where, const char *rule, const char *why)
{
    wc_field_errors_add(c->errs, where, rule, "%s: %s", where, why);
    return false;
}

static int find_operator(const char *name)
{
    for (size_t i = 0; i < OPERATOR_COUNT; i++) {
        if (strcmp(operators[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* A path is 1 to WC_FILTER_SEGMENTS_MAX non-empty segments separated by dots. */
static bool path_valid(const char *path)
{
    size_t len = strlen(path);
    if (len == 0 || len > WC_FILTER_PATH_MAX || path[0] == '.' || path[len - 1] == '.' ||
        strstr(path, "..") != NULL) {
        return false;
    }
    int segments = 1;
    for (const char *p = path; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20) {
            return false;
        }
        segments += *p == '.';
    }
    return segments <= WC_FILTER_SEGMENTS_MAX;
}

static bool is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static bool check_node(check_t *c, json_object *node, const char *where, int depth);

static bool check_list(check_t *c, json_object *list, const char *where, int depth)
{
    if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0) {
        return refuse(c, where, "type", "must be a non-empty array of filters");
    }
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        char inner[256];
        snprintf(inner, sizeof(inner), "%.200s[%zu]", where, i);
        if (!check_node(c, json_object_array_get_idx(list, i), inner, depth + 1)) {
            return false;
        }
    }
    return true;
}

static bool check_leaf(check_t *c, json_object *node, const char *where)
{
    json_object *field = NULL;
    char at[256];
    snprintf(at, sizeof(at), "%s.field", where);
    if (!json_object_object_get_ex(node, "field", &field)) {
        return refuse(c, at, "required", "a comparison needs a field (a dotted path)");
    }
    if (!json_object_is_type(field, json_type_string) || !path_valid(json_object_get_string(field))) {
        return refuse(c, at, "path",
                      "must be a dotted path of 1 to 16 non-empty names, at most 256 characters");
    }
    if (json_object_object_length(node) != 2) {
        return refuse(c, where, "operator",
                      "a comparison has a field and exactly one operator: eq, ne, gt, gte, lt, "
                      "lte, in, exists");
    }
    json_object_object_foreach(node, key, value)
    {
        if (strcmp(key, "field") == 0) {
            continue;
        }
        snprintf(at, sizeof(at), "%s.%s", where, key);
        int i = find_operator(key);
        if (i < 0) {
            return refuse(c, at, "unknown",
                          "unknown operator; use eq, ne, gt, gte, lt, lte, in, exists, and, or, not");
        }
        switch (operators[i].op) {
        case OP_GT:
        case OP_GTE:
        case OP_LT:
        case OP_LTE:
            if (!is_number(value) && !json_object_is_type(value, json_type_string)) {
                return refuse(c, at, "type", "must be a number or a string");
            }
            break;
        case OP_IN:
            if (!json_object_is_type(value, json_type_array) ||
                json_object_array_length(value) == 0 ||
                json_object_array_length(value) > WC_FILTER_IN_MAX) {
                return refuse(c, at, "type", "must be an array of 1 to 100 values");
            }
            break;
        case OP_EXISTS:
            if (!json_object_is_type(value, json_type_boolean)) {
                return refuse(c, at, "type", "must be true or false");
            }
            break;
        case OP_EQ:
        case OP_NE:
            break;
        }
    }
    return true;
}

static bool check_node(check_t *c, json_object *node, const char *where, int depth)
{
    if (depth > WC_FILTER_MAX_DEPTH) {
        return refuse(c, where, "depth", "filters nest at most 8 levels deep");
    }
    if (++c->nodes > WC_FILTER_MAX_NODES) {
        return refuse(c, where, "size", "a filter has at most 64 parts");
    }
    if (!json_object_is_type(node, json_type_object)) {
        return refuse(c, where, "type", "must be an object");
    }
    json_object *inner = NULL;
    const char *combinators[] = {"and", "or", "not"};
    for (size_t i = 0; i < 3; i++) {
        if (!json_object_object_get_ex(node, combinators[i], &inner)) {
            continue;
        }
        char at[256];
        snprintf(at, sizeof(at), "%s.%s", where, combinators[i]);
        if (json_object_object_length(node) != 1) {
            return refuse(c, where, "operator", "and, or and not stand alone in their object");
        }
        return i < 2 ? check_list(c, inner, at, depth) : check_node(c, inner, at, depth + 1);
    }
    return check_leaf(c, node, where);
}

bool wc_event_filter_check(json_object *filter, wc_field_errors_t *errs)
{
    check_t c = {errs, 0};
    return check_node(&c, filter, "filter", 1);
}

/* ---- evaluation ---- */

/* Finds the value at a dotted path: false when a segment is missing or
 * crosses a value that is not an object. *value may be NULL: JSON null. */
static bool lookup(json_object *payload, const char *path, json_object **value)
{
    json_object *at = payload;
    char segment[WC_FILTER_PATH_MAX + 1];
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(segment) || !json_object_is_type(at, json_type_object)) {
            return false;
        }
        memcpy(segment, path, n);
        segment[n] = '\0';
        if (!json_object_object_get_ex(at, segment, &at)) {
            return false;
        }
        if (dot == NULL) {
            *value = at;
            return true;
        }
        path = dot + 1;
    }
}

/* JSON equality with numbers compared by value (json-c tells 1 from 1.0). */
static bool values_equal(json_object *a, json_object *b)
{
    if (is_number(a) && is_number(b)) {
        if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
            return json_object_get_int64(a) == json_object_get_int64(b);
        }
        return json_object_get_double(a) == json_object_get_double(b);
    }
    return json_object_equal(a, b) != 0;
}

/* <0, 0, >0 for comparable values; `comparable` false for a number against a
 * string, or anything else. */
static int compare(json_object *a, json_object *b, bool *comparable)
{
    *comparable = true;
    if (is_number(a) && is_number(b)) {
        if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
            int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
            return (x > y) - (x < y);
        }
        double x = json_object_get_double(a), y = json_object_get_double(b);
        if (isnan(x) || isnan(y)) {
            *comparable = false;
            return 0;
        }
        return (x > y) - (x < y);
    }
    if (json_object_is_type(a, json_type_string) && json_object_is_type(b, json_type_string)) {
        int r = strcmp(json_object_get_string(a), json_object_get_string(b));
        return (r > 0) - (r < 0);
    }
    *comparable = false;
    return 0;
}

static bool match_leaf(json_object *node, json_object *payload)
{
    json_object *field = NULL;
    json_object_object_get_ex(node, "field", &field);
    json_object *actual = NULL;
    bool present = lookup(payload, json_object_get_string(field), &actual);
    json_object_object_foreach(node, key, expected)
    {
        int i = find_operator(key);
        if (i < 0) {
            continue; /* "field" */
        }
        op_t op = operators[i].op;
        if (op == OP_EXISTS) {
            return present == json_object_get_boolean(expected);
        }
        if (!present) {
            return false;
        }
        bool comparable = false;
        int order = 0;
        switch (op) {
        case OP_EQ:
            return values_equal(actual, expected);
        case OP_NE:
            return !values_equal(actual, expected);
        case OP_IN:
            for (size_t k = 0; k < json_object_array_length(expected); k++) {
                if (values_equal(actual, json_object_array_get_idx(expected, k))) {
                    return true;
                }
            }
            return false;
        case OP_GT:
        case OP_GTE:
        case OP_LT:
        case OP_LTE:
            order = compare(actual, expected, &comparable);
            if (!comparable) {
                return false;
            }
            return op == OP_GT ? order > 0 : op == OP_GTE ? order >= 0 : op == OP_LT ? order < 0
                                                                                    : order <= 0;
        case OP_EXISTS:
            break;
        }
    }
    return false;
}

bool wc_event_filter_match(json_object *filter, json_object *payload)
{
    json_object *inner = NULL;
    if (json_object_object_get_ex(filter, "and", &inner)) {
        for (size_t i = 0; i < json_object_array_length(inner); i++) {
            if (!wc_event_filter_match(json_object_array_get_idx(inner, i), payload)) {
                return false;
            }
        }
        return true;
    }
    if (json_object_object_get_ex(filter, "or", &inner)) {
        for (size_t i = 0; i < json_object_array_length(inner); i++) {
            if (wc_event_filter_match(json_object_array_get_idx(inner, i), payload)) {
                return true;
            }
        }
        return false;
    }
    if (json_object_object_get_ex(filter, "not", &inner)) {
        return !wc_event_filter_match(inner, payload);
    }
    return match_leaf(filter, payload);
}
