#include "wc_event_type.h"

#include <string.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool type_of_length(const char *type, size_t len)
{
    if (len == 0 || len > WC_EVENT_TYPE_MAX || type[0] == '.' || type[len - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (type[i] == '.' ? type[i + 1] == '.' : !name_char(type[i])) {
            return false;
        }
    }
    return true;
}

bool wc_event_type_valid(const char *type) { return type_of_length(type, strlen(type)); }

bool wc_event_pattern_valid(const char *pattern)
{
    size_t len = strlen(pattern);
    if (strcmp(pattern, "*") == 0) {
        return true;
    }
    if (len > 2 && strcmp(pattern + len - 2, ".*") == 0) {
        return type_of_length(pattern, len - 2);
    }
    return type_of_length(pattern, len);
}

bool wc_event_pattern_matches(const char *pattern, const char *type)
{
    size_t len = strlen(pattern);
    if (strcmp(pattern, "*") == 0) {
        return true;
    }
    if (len > 2 && strcmp(pattern + len - 2, ".*") == 0) {
        /* "a.b.*" covers "a.b.c" and "a.b.c.d", not "a.b" nor "a.bc". */
        return strncmp(type, pattern, len - 1) == 0 && type[len - 1] != '\0';
    }
    return strcmp(pattern, type) == 0;
}
