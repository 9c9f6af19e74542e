/*
 * Structured logging: one JSON object per line on stderr.
 *
 * Every line carries a timestamp, the level, the process role ("api",
 * "worker-master", "worker", "ctl") and its pid, so that the lines of many
 * processes written to one stream can be told apart and grepped by field.
 * Each line is written with a single write(2), which keeps lines from
 * different processes whole when they share a file.
 */
#ifndef WC_LOG_H
#define WC_LOG_H

#include <json-c/json.h>

typedef enum {
    WC_LOG_DEBUG = 0,
    WC_LOG_INFO,
    WC_LOG_WARN,
    WC_LOG_ERROR,
} wc_log_level_t;

/* Sets the process role named in every line and the lowest level written.
 * Safe to call again, e.g. in a child after fork. */
void wc_log_init(const char *role, wc_log_level_t min_level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int wc_log_level_parse(const char *name, wc_log_level_t *out);

/* Writes one line with the message and the members of `fields` (may be NULL).
 * Takes ownership of `fields`. */
void wc_log_fields(wc_log_level_t level, const char *msg, json_object *fields);

/* The fields that let one grep follow a notification from the API's request
 * to the worker's delivery: notificationId, tenantId and correlationId (the
 * request's X-Request-Id, carried in the queue message). NULL or empty
 * values are left out. Returns a new object for wc_log_fields, or NULL when
 * out of memory (the line then goes without them). */
json_object *wc_log_notification_fields(const char *notification_id, const char *tenant_id,
                                        const char *correlation_id);

/* Writes one line whose message is formatted like printf. */
void wc_log(wc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wc_log_debug(...) wc_log(WC_LOG_DEBUG, __VA_ARGS__)
#define wc_log_info(...) wc_log(WC_LOG_INFO, __VA_ARGS__)
#define wc_log_warn(...) wc_log(WC_LOG_WARN, __VA_ARGS__)
#define wc_log_error(...) wc_log(WC_LOG_ERROR, __VA_ARGS__)

#endif
