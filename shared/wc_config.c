#include "wc_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wc_log.h"

typedef enum { CFG_STRING, CFG_INT } cfg_type_t;

typedef struct {
    const char *name;
    const char *default_value;
    cfg_type_t type;
    size_t offset;
    size_t size;      /* For strings: the buffer size. */
    long min, max;    /* For integers. */
    const char *const *choices; /* For strings limited to a set; NULL-terminated. */
    const char *help;
} cfg_entry_t;

static const char *const queue_types[] = {"quorum", "classic", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const starttls_modes[] = {"off", "try", "required", NULL};

#define STR(field, choices_) \
    CFG_STRING, offsetof(wc_config_t, field), sizeof(((wc_config_t *)0)->field), 0, 0, choices_
#define INT(field, min_, max_) CFG_INT, offsetof(wc_config_t, field), sizeof(int), min_, max_, NULL

static const cfg_entry_t config_table[] = {
    {"WAVECOM_MONGODB_URI", "mongodb://127.0.0.1:27017", STR(mongodb_uri, NULL),
     "MongoDB connection string (MongoDB 6/7 or FerretDB 1.24)."},
    {"WAVECOM_MONGODB_DB", "wavecom", STR(mongodb_db, NULL), "Database name."},
    {"WAVECOM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", STR(amqp_url, NULL),
     "RabbitMQ URL, vhost included."},
    {"WAVECOM_QUEUE_TYPE", "quorum", STR(queue_type, queue_types),
     "Type of the queues WaveCom declares: quorum or classic."},
    {"WAVECOM_LOG_LEVEL", "info", STR(log_level, log_levels),
     "Lowest level logged: debug, info, warn or error."},
    {"WAVECOM_MAX_RETRIES", "3", INT(max_retries, 0, 10),
     "Delivery retries after the first attempt, unless a notification sets maxRetries."},
    {"WAVECOM_API_HOST", "127.0.0.1", STR(api_host, NULL), "Address the API listens on."},
    {"WAVECOM_API_PORT", "5000", INT(api_port, 1, 65535), "Port the API listens on."},
    {"WAVECOM_API_THREADS", "4", INT(api_threads, 1, 256), "HTTP worker threads of the API."},
    {"WAVECOM_API_MAX_BODY_BYTES", "65536", INT(api_max_body_bytes, 1024, 64 * 1024 * 1024),
     "Largest request body accepted; larger ones get 413."},
    {"WAVECOM_API_CONNECTION_LIMIT", "1024", INT(api_connection_limit, 1, 100000),
     "Most client connections open at once."},
    {"WAVECOM_API_PER_IP_LIMIT", "256", INT(api_per_ip_limit, 1, 100000),
     "Most connections open at once from one client address."},
    {"WAVECOM_API_TIMEOUT_SECONDS", "30", INT(api_timeout_seconds, 1, 3600),
     "Idle client connections are closed after this long."},
    {"WAVECOM_WORKER_PROCESSES", "0", INT(worker_processes, 0, 256),
     "Worker children the master forks; 0 means one per core."},
    {"WAVECOM_WORKER_PREFETCH", "50", INT(worker_prefetch, 1, 5000),
     "Unacknowledged deliveries a worker child may hold per queue."},
    {"WAVECOM_DRAIN_GRACE_SECONDS", "30", INT(drain_grace_seconds, 1, 3600),
     "On SIGTERM, how long children may finish their work before they are killed."},
    {"WAVECOM_LEASE_SECONDS", "60", INT(lease_seconds, 5, 3600),
     "How long a worker's claim on a notification lasts before another may take it over."},
    {"WAVECOM_SMTP_HOST", "127.0.0.1", STR(smtp_host, NULL), "SMTP server host."},
    {"WAVECOM_SMTP_PORT", "1025", INT(smtp_port, 1, 65535), "SMTP server port."},
    {"WAVECOM_SMTP_STARTTLS", "off", STR(smtp_starttls, starttls_modes),
     "STARTTLS: off, try (when offered) or required."},
    {"WAVECOM_SMTP_USER", "", STR(smtp_user, NULL), "SMTP AUTH user; empty disables AUTH."},
    {"WAVECOM_SMTP_PASSWORD", "", STR(smtp_password, NULL), "SMTP AUTH password."},
    {"WAVECOM_SMTP_FROM", "WaveCom <notifications@wavecom.local>", STR(smtp_from, NULL),
     "From address of every email."},
    {"WAVECOM_SMTP_TIMEOUT_SECONDS", "10", INT(smtp_timeout_seconds, 1, 600),
     "Timeout of each SMTP command."},
};

#define CONFIG_COUNT (sizeof(config_table) / sizeof(config_table[0]))

static int set_entry(wc_config_t *cfg, const cfg_entry_t *e, const char *value, char *err,
                     size_t err_len)
{
    char *field = (char *)cfg + e->offset;

    if (e->type == CFG_INT) {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0') {
            snprintf(err, err_len, "%s: \"%s\" is not a whole number", e->name, value);
            return -1;
        }
        if (v < e->min || v > e->max) {
            snprintf(err, err_len, "%s: %ld is outside %ld..%ld", e->name, v, e->min, e->max);
            return -1;
        }
        int iv = (int)v;
        memcpy(field, &iv, sizeof(iv));
        return 0;
    }

    size_t len = strlen(value);
    if (len >= e->size) {
        snprintf(err, err_len, "%s: longer than %zu characters", e->name, e->size - 1);
        return -1;
    }
    if (e->choices != NULL) {
        bool ok = false;
        for (const char *const *c = e->choices; *c != NULL; c++) {
            ok = ok || strcmp(*c, value) == 0;
        }
        if (!ok) {
            snprintf(err, err_len, "%s: \"%s\" is not one of the allowed values", e->name, value);
            return -1;
        }
    }
    memcpy(field, value, len + 1);
    return 0;
}

static int check_whole(const wc_config_t *cfg, char *err, size_t err_len)
{
    if (strncmp(cfg->mongodb_uri, "mongodb://", 10) != 0 &&
        strncmp(cfg->mongodb_uri, "mongodb+srv://", 14) != 0) {
        snprintf(err, err_len, "WAVECOM_MONGODB_URI: must start with mongodb:// or mongodb+srv://");
        return -1;
    }
    if (strncmp(cfg->amqp_url, "amqp://", 7) != 0 && strncmp(cfg->amqp_url, "amqps://", 8) != 0) {
        snprintf(err, err_len, "WAVECOM_AMQP_URL: must start with amqp:// or amqps://");
        return -1;
    }
    if (cfg->mongodb_db[0] == '\0' || strpbrk(cfg->mongodb_db, "/\\. \"$") != NULL) {
        snprintf(err, err_len, "WAVECOM_MONGODB_DB: empty or contains a character MongoDB forbids");
        return -1;
    }
    return 0;
}

int wc_config_load(wc_config_t *cfg, char *err, size_t err_len)
{
    /* Build into a scratch copy so a failure leaves the caller's whole. */
    wc_config_t next;
    memset(&next, 0, sizeof(next));
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        const char *value = getenv(e->name);
        if (value == NULL) {
            value = e->default_value;
        }
        if (set_entry(&next, e, value, err, err_len) != 0) {
            return -1;
        }
    }
    if (next.worker_processes == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        next.worker_processes = cores > 0 ? (int)(cores > 256 ? 256 : cores) : 1;
    }
    if (check_whole(&next, err, err_len) != 0) {
        return -1;
    }
    *cfg = next;
    return 0;
}

void wc_config_print_help(FILE *out)
{
    fprintf(out, "Environment:\n");
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        fprintf(out, "  %-30s %s (default: \"%s\")\n", e->name, e->help, e->default_value);
    }
}

void wc_config_print_markdown(FILE *out)
{
    fprintf(out, "| Variable | Default | Meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        if (e->default_value[0] == '\0') {
            fprintf(out, "| `%s` | (empty) | %s |\n", e->name, e->help);
        } else {
            fprintf(out, "| `%s` | `%s` | %s |\n", e->name, e->default_value, e->help);
        }
    }
}
