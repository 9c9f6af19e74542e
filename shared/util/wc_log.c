#include "wc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wc_log_redact.h"
#include "wc_time.h"

static char log_role[32] = "wavecom";
static wc_log_level_t log_min_level = WC_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void wc_log_init(const char *role, wc_log_level_t min_level)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
    log_min_level = min_level;
}

int wc_log_level_parse(const char *name, wc_log_level_t *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (wc_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void wc_log_fields(wc_log_level_t level, const char *msg, json_object *fields)
{
    if (level < log_min_level) {
        json_object_put(fields);
        return;
    }

    char ts[WC_ISO8601_LEN];
    wc_time_format_iso8601(wc_time_now_ms(), ts, sizeof(ts));

    json_object *line = json_object_new_object();
    json_object_object_add(line, "ts", json_object_new_string(ts));
    json_object_object_add(line, "level", json_object_new_string(level_names[level]));
    json_object_object_add(line, "proc", json_object_new_string(log_role));
    json_object_object_add(line, "pid", json_object_new_int((int)getpid()));
    /* Whatever a message quotes (a provider's answer, a URL) is masked here,
     * once for every line: see wc_log_redact.h. */
    char masked[4096];
    wc_log_redact(msg, masked, sizeof(masked));
    json_object_object_add(line, "msg", json_object_new_string(masked));
    if (fields != NULL) {
        json_object_object_foreach(fields, key, value)
        {
            json_object_object_add(line, key, json_object_get(value));
        }
        json_object_put(fields);
    }

    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    char buf[8192];
    if (len + 1 > sizeof(buf)) {
        len = sizeof(buf) - 1; /* A truncated line beats an interleaved one. */
    }
    memcpy(buf, text, len);
    buf[len] = '\n';
    ssize_t ignored = write(STDERR_FILENO, buf, len + 1);
    (void)ignored; /* Nowhere left to report a failed log write. */
    json_object_put(line);
}

static void add_if_set(json_object *fields, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0') {
        json_object_object_add(fields, key, json_object_new_string(value));
    }
}

json_object *wc_log_notification_fields(const char *notification_id, const char *tenant_id,
                                        const char *correlation_id)
{
    json_object *fields = json_object_new_object();
    if (fields != NULL) {
        add_if_set(fields, "notificationId", notification_id);
        add_if_set(fields, "tenantId", tenant_id);
        add_if_set(fields, "correlationId", correlation_id);
    }
    return fields;
}

void wc_log(wc_log_level_t level, const char *fmt, ...)
{
    if (level < log_min_level) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wc_log_fields(level, msg, NULL);
}
