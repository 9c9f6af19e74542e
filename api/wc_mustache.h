/*
 * Mustache templates rendered against JSON data, behind a C API: the one
 * place the API uses the kainjow Mustache library (a C++ header), so that
 * nothing else of the API is C++ (docs/ARCHITECTURE.md §15).
 *
 * What is supported: interpolation ({{name}}, escaped or not by the mode;
 * {{{name}}} and {{& name}} never escaped), sections, inverted sections,
 * dotted names, the implicit iterator {{.}}, comments and set delimiters.
 * Partials are not: a template names no other template, and data never
 * becomes a template.
 *
 * Rendering is strict: every name a rendering reaches must resolve in the
 * data (false, null or [] make a section empty), otherwise the result is
 * WC_MUSTACHE_MISSING with the names. A name inside a section the data
 * leaves empty is not reached. Dotted names resolve as the Mustache
 * specification says: the first part in the innermost context that has it,
 * the rest inside that value only.
 *
 * Every function may be called from any thread; none keeps a pointer to its
 * arguments.
 */
#ifndef WC_MUSTACHE_H
#define WC_MUSTACHE_H

#include <json-c/json.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    WC_MUSTACHE_OK,
    WC_MUSTACHE_SYNTAX,    /* the template does not parse (the reason is in `why`) */
    WC_MUSTACHE_MISSING,   /* names the rendering reached are not in the data */
    WC_MUSTACHE_TOO_LARGE, /* the output would exceed the limit given */
    WC_MUSTACHE_TOO_DEEP,  /* the data nests deeper than WC_MUSTACHE_DATA_DEPTH_MAX */
    WC_MUSTACHE_NO_MEMORY,
} wc_mustache_status_t;

typedef enum {
    WC_MUSTACHE_TEXT, /* {{name}} inserts the value as it is */
    WC_MUSTACHE_HTML, /* {{name}} escapes & < > " ' for HTML */
} wc_mustache_mode_t;

/* How deep data may nest (objects and arrays). */
#define WC_MUSTACHE_DATA_DEPTH_MAX 16

/* The names a rendering missed: the first WC_MUSTACHE_MISSING_MAX distinct
 * ones, each cut to WC_MUSTACHE_NAME_MAX - 1 bytes; `more` when there were
 * others. */
#define WC_MUSTACHE_MISSING_MAX 8
#define WC_MUSTACHE_NAME_MAX 64
typedef struct {
    size_t count;
    int more;
    char names[WC_MUSTACHE_MISSING_MAX][WC_MUSTACHE_NAME_MAX];
} wc_mustache_missing_t;

/* Parses `tmpl`: OK, or SYNTAX with the reason in `why` (always a string). */
wc_mustache_status_t wc_mustache_check(const char *tmpl, char *why, size_t why_len);

/*
 * Renders `tmpl` against `data` (a JSON object, or NULL for none) in `mode`.
 * Strings render as they are, numbers as their JSON text, true/false/null
 * render nothing and decide sections. On OK and on MISSING *out is the
 * rendering (missing names render nothing), a new string the caller frees;
 * `missing` (which may be NULL) lists the names missed. On any other status
 * *out is NULL and `why` says what happened. `max_out` bounds the rendering's
 * length in bytes.
 */
wc_mustache_status_t wc_mustache_render(const char *tmpl, json_object *data,
                                        wc_mustache_mode_t mode, size_t max_out, char **out,
                                        wc_mustache_missing_t *missing, char *why,
                                        size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
