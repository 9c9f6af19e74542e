#include "wc_config.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wc_broker_nodes.h"
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
    /* A secret may come from the file named by <NAME>_FILE (Kubernetes secret
     * volumes) and is never shown: wc_config_display_value masks it. */
    bool secret;
    /* False for what a SIGHUP cannot change in a running worker master (the
     * pool's size, the metrics listener): wc_config_reload keeps it. */
    bool reloadable;
} cfg_entry_t;

static const char *const queue_types[] = {"quorum", "classic", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const starttls_modes[] = {"off", "try", "required", NULL};

#define STR(field, choices_) \
    CFG_STRING, offsetof(wc_config_t, field), sizeof(((wc_config_t *)0)->field), 0, 0, choices_
#define INT(field, min_, max_) CFG_INT, offsetof(wc_config_t, field), sizeof(int), min_, max_, NULL
/* The flags that end each row. */
#define RELOADABLE .reloadable = true
#define SECRET .secret = true, .reloadable = true
#define RESTART_ONLY .reloadable = false

static const cfg_entry_t config_table[] = {
    /* Every process: the database, the broker, logging, retries. */
    {"WAVECOM_MONGODB_URI", "mongodb://127.0.0.1:27017", STR(mongodb_uri, NULL),
     "MongoDB connection string (MongoDB 6/7 or FerretDB 1.24).", SECRET},
    {"WAVECOM_MONGODB_DB", "wavecom", STR(mongodb_db, NULL), "Database name.", RELOADABLE},
    {"WAVECOM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", STR(amqp_url, NULL),
     "RabbitMQ URL, vhost included; for a cluster, one URL per node separated by commas (each "
     "process starts at a node of its own and moves to the next when its connection is lost).",
     SECRET},
    {"WAVECOM_QUEUE_TYPE", "quorum", STR(queue_type, queue_types),
     "Type of the queues WaveCom declares: quorum or classic.", RELOADABLE},
    {"WAVECOM_QUORUM_GROUP_SIZE", "0", INT(quorum_group_size, 0, 16),
     "Replicas a quorum queue gets when first declared (x-quorum-initial-group-size): the size of "
     "a RabbitMQ cluster; 0 leaves it to RabbitMQ. Every process must use the same value.",
     RELOADABLE},
    {"WAVECOM_LOG_LEVEL", "info", STR(log_level, log_levels),
     "Lowest level logged: debug, info, warn or error.", RELOADABLE},
    {"WAVECOM_MAX_RETRIES", "3", INT(max_retries, 0, 10),
     "Delivery retries after the first attempt, unless a notification sets maxRetries.",
     RELOADABLE},
    /* wavecom-api: the HTTP server and the group commit. */
    {"WAVECOM_API_HOST", "127.0.0.1", STR(api_host, NULL),
     "Address the API listens on.", RELOADABLE},
    {"WAVECOM_API_PORT", "5000", INT(api_port, 1, 65535), "Port the API listens on.", RELOADABLE},
    /* Reads run on these threads (only the group commit waits elsewhere), so a
     * cheap request waits behind the slow ones sharing its thread; 4 threads
     * kept a 4 ms GET by id waiting 1 s under 50 dashboards (docs/READS.md). */
    {"WAVECOM_API_THREADS", "16", INT(api_threads, 1, 256),
     "HTTP worker threads of the API; reads are answered on them.", RELOADABLE},
    {"WAVECOM_API_MAX_BODY_BYTES", "131072", INT(api_max_body_bytes, 1024, 64 * 1024 * 1024),
     "Largest request body accepted; larger ones get 413.", RELOADABLE},
    {"WAVECOM_API_CONNECTION_LIMIT", "1024", INT(api_connection_limit, 1, 100000),
     "Most client connections open at once.", RELOADABLE},
    {"WAVECOM_API_PER_IP_LIMIT", "256", INT(api_per_ip_limit, 1, 100000),
     "Most connections open at once from one client address.", RELOADABLE},
    {"WAVECOM_PUBLISH_TIMEOUT_SECONDS", "10", INT(publish_timeout_seconds, 1, 120),
     "The longest the API waits for RabbitMQ to take and confirm a request's notifications, a "
     "reconnect and second attempt included; past it the answer is 503 with Retry-After.",
     RELOADABLE},
    {"WAVECOM_API_TIMEOUT_SECONDS", "30", INT(api_timeout_seconds, 1, 3600),
     "Idle client connections are closed after this long.", RELOADABLE},
    /* wavecom-worker: the master, its children and their leases. */
    {"WAVECOM_WORKER_PROCESSES", "0", INT(worker_processes, 0, 256),
     "Worker children the master forks; 0 means one per core.", RESTART_ONLY},
    {"WAVECOM_WORKER_PREFETCH", "50", INT(worker_prefetch, 1, 5000),
     "Unacknowledged deliveries a worker child may hold per queue.", RELOADABLE},
    {"WAVECOM_WORKER_STORE_THREADS", "4", INT(worker_store_threads, 1, 64),
     "Database threads per worker child: claims and outcome writes in flight at once.", RELOADABLE},
    {"WAVECOM_DRAIN_GRACE_SECONDS", "30", INT(drain_grace_seconds, 1, 3600),
     "On SIGTERM, how long children may finish their work before they are killed.", RELOADABLE},
    {"WAVECOM_LEASE_SECONDS", "60", INT(lease_seconds, 5, 3600),
     "How long a worker's claim on a notification lasts before another may take it over.",
     RELOADABLE},
    {"WAVECOM_OUTCOME_RETRY_SECONDS", "1500", INT(outcome_retry_seconds, 10, 86400),
     "How long a worker keeps a known outcome (sent, failed) and its unacked message while the "
     "database cannot record it; keep it below RabbitMQ's consumer_timeout (30 minutes).",
     RELOADABLE},
    {"WAVECOM_WORKER_METRICS_HOST", "127.0.0.1", STR(worker_metrics_host, NULL),
     "Address the worker master serves its Prometheus metrics on.", RESTART_ONLY},
    {"WAVECOM_WORKER_METRICS_PORT", "9101", INT(worker_metrics_port, 0, 65535),
     "Port of the worker master's GET /metrics; 0 turns the endpoint off.", RESTART_ONLY},
    {"WAVECOM_WORKER_ID", "", STR(worker_id, NULL),
     "Name this worker host reports its circuit breakers under; empty means the host name.",
     RELOADABLE},
    {"WAVECOM_WORKER_REPORT_SECONDS", "5", INT(worker_report_seconds, 1, 3600),
     "How often a worker host writes its circuit breaker states to the database (worker_hosts); "
     "the API shows a host silent for 3 intervals as stale.", RELOADABLE},
    {"WAVECOM_WORKER_HIGH_ONLY", "0", INT(worker_high_only, 0, 1),
     "1: the workers consume only the high_priority queue (CRITICAL and HIGH).", RELOADABLE},
    /* Delivery providers: SMTP, HTTP providers and their breakers. */
    {"WAVECOM_SMTP_HOST", "127.0.0.1", STR(smtp_host, NULL), "SMTP server host.", RELOADABLE},
    {"WAVECOM_SMTP_PORT", "1025", INT(smtp_port, 1, 65535), "SMTP server port.", RELOADABLE},
    {"WAVECOM_SMTP_STARTTLS", "off", STR(smtp_starttls, starttls_modes),
     "STARTTLS: off, try (when offered) or required.", RELOADABLE},
    {"WAVECOM_SMTP_USER", "", STR(smtp_user, NULL),
     "SMTP AUTH user; empty disables AUTH.", RELOADABLE},
    {"WAVECOM_SMTP_PASSWORD", "", STR(smtp_password, NULL),
     "SMTP AUTH password.", SECRET},
    {"WAVECOM_SMTP_FROM", "WaveCom <notifications@wavecom.local>", STR(smtp_from, NULL),
     "From address of every email.", RELOADABLE},
    {"WAVECOM_SMTP_TIMEOUT_SECONDS", "10", INT(smtp_timeout_seconds, 1, 600),
     "Timeout of each SMTP command.", RELOADABLE},
    {"WAVECOM_SMTP_SESSIONS", "2", INT(smtp_sessions, 1, 16),
     "SMTP sender threads per worker child; each sends the emails waiting over one connection.",
     RELOADABLE},
    {"WAVECOM_SMTP2_HOST", "", STR(smtp2_host, NULL),
     "Host of a second SMTP relay (provider smtp2), used when the first one's breaker is open or "
     "it fails transiently; empty: none. It shares the first relay's STARTTLS mode, AUTH "
     "credentials, sender and timeouts.", RELOADABLE},
    {"WAVECOM_SMTP2_PORT", "25", INT(smtp2_port, 1, 65535), "Port of the second SMTP relay.",
     RELOADABLE},
    {"WAVECOM_EMAIL_PROVIDERS", "smtp,smtp2", STR(email_providers, NULL),
     "Email relays in failover order, comma separated (smtp, smtp2); those not configured are "
     "skipped, as for WAVECOM_SMS_PROVIDERS.", RELOADABLE},
    {"WAVECOM_PROVIDER_TIMEOUT_MS", "10000", INT(provider_timeout_ms, 100, 120000),
     "Bound on each HTTP provider request (SMS, push, webhook), connection included.", RELOADABLE},
    {"WAVECOM_PROVIDER_CA_FILE", "", STR(provider_ca_file, NULL),
     "Extra CA bundle trusted for provider HTTPS (e.g. a test double's certificate).", RELOADABLE},
    {"WAVECOM_BREAKER_THRESHOLD", "10", INT(breaker_threshold, 1, 10000),
     "Consecutive transient failures that open a provider's circuit breaker.", RELOADABLE},
    {"WAVECOM_BREAKER_OPEN_SECONDS", "30", INT(breaker_open_seconds, 1, 3600),
     "How long an open breaker refuses calls before one probe is let through.", RELOADABLE},
    {"WAVECOM_TWILIO_URL", "https://api.twilio.com", STR(twilio_url, NULL),
     "Base URL of the Twilio-compatible SMS API.", RELOADABLE},
    {"WAVECOM_TWILIO_ACCOUNT_SID", "", STR(twilio_account_sid, NULL),
     "Twilio account SID; empty disables SMS delivery.", RELOADABLE},
    {"WAVECOM_TWILIO_AUTH_TOKEN", "", STR(twilio_auth_token, NULL),
     "Twilio auth token.", SECRET},
    {"WAVECOM_TWILIO_FROM", "", STR(twilio_from, NULL),
     "Sender: an E.164 number, or a messaging service SID (MG...).", RELOADABLE},
    {"WAVECOM_VONAGE_URL", "https://rest.nexmo.com", STR(vonage_url, NULL),
     "Base URL of the Vonage (Nexmo) SMS API; its /sms/json is called.", RELOADABLE},
    {"WAVECOM_VONAGE_API_KEY", "", STR(vonage_api_key, NULL),
     "Vonage API key; empty leaves Vonage out of the SMS providers.", RELOADABLE},
    {"WAVECOM_VONAGE_API_SECRET", "", STR(vonage_api_secret, NULL), "Vonage API secret.", SECRET},
    {"WAVECOM_VONAGE_FROM", "", STR(vonage_from, NULL),
     "Vonage sender: a number without '+' or an alphanumeric sender id.", RELOADABLE},
    {"WAVECOM_SMS_PROVIDERS", "twilio,vonage", STR(sms_providers, NULL),
     "SMS providers in failover order, comma separated (twilio, vonage); those not configured are "
     "skipped. An attempt goes to the first whose breaker is closed, and a transient failure moves "
     "it to the next at once instead of to a retry tier.", RELOADABLE},
    {"WAVECOM_FCM_URL", "https://fcm.googleapis.com", STR(fcm_url, NULL),
     "Base URL of FCM HTTP v1.", RELOADABLE},
    {"WAVECOM_FCM_SERVICE_ACCOUNT_FILE", "", STR(fcm_service_account_file, NULL),
     "Google service-account JSON for FCM; empty disables FCM.", RELOADABLE},
    {"WAVECOM_APNS_URL", "https://api.push.apple.com", STR(apns_url, NULL),
     "Base URL of APNs (HTTP/2).", RELOADABLE},
    {"WAVECOM_APNS_KEY_FILE", "", STR(apns_key_file, NULL),
     "APNs signing key (.p8, EC P-256); empty disables APNs.", RELOADABLE},
    {"WAVECOM_APNS_KEY_ID", "", STR(apns_key_id, NULL),
     "Key id of the APNs signing key.", RELOADABLE},
    {"WAVECOM_APNS_TEAM_ID", "", STR(apns_team_id, NULL), "Apple developer team id.", RELOADABLE},
    {"WAVECOM_APNS_TOPIC", "", STR(apns_topic, NULL),
     "apns-topic: the app's bundle id.", RELOADABLE},
    /* wavecom-api: the intake, its caches. */
    {"WAVECOM_API_MAX_BATCH_BODY_BYTES", "4194304",
     INT(api_max_batch_body_bytes, 65536, 256 * 1024 * 1024),
     "Largest body of POST /api/notifications/batch; larger ones get 413.", RELOADABLE},
    {"WAVECOM_API_COMMITTERS", "2", INT(api_committers, 1, 16),
     "Group-commit threads: each writes a batch of requests to the database and the broker.",
     RELOADABLE},
    {"WAVECOM_API_COMMIT_MAX_ITEMS", "1000", INT(api_commit_max_items, 1, 10000),
     "Most notifications one group commit writes and publishes together.", RELOADABLE},
    {"WAVECOM_API_INTAKE_QUEUE_LIMIT", "20000", INT(api_intake_queue_limit, 100, 1000000),
     "Notifications waiting for a group commit beyond which new ones get 503.", RELOADABLE},
    {"WAVECOM_API_AUTH_CACHE_SECONDS", "0", INT(api_auth_cache_seconds, 0, 300),
     "How long the API trusts a looked-up API key; 0 looks up every request.", RELOADABLE},
    {"WAVECOM_API_STATS_CACHE_SECONDS", "5", INT(api_stats_cache_seconds, 0, 300),
     "How long statistics and database-derived metrics are served from memory.", RELOADABLE},
    {"WAVECOM_API_LIST_CACHE_SECONDS", "60", INT(api_list_cache_seconds, 0, 3600),
     "How long a list answer, and a counter bucket a list walk read, is kept while what it "
     "depends on did not change; 0 reads every list from the database.", RELOADABLE},
    {"WAVECOM_API_VERSION_FRESH_MS", "1000", INT(api_version_fresh_ms, 0, 10000),
     "How long the API reuses a tenant's data version it read, for list answers and the "
     "statistics' counts; other processes' changes show this much later at most. 0 reads it "
     "for every request.", RELOADABLE},
    /* wavecom-api: tenants' limits. */
    {"WAVECOM_RATE_TENANT_RPS", "0", INT(rate_tenant_rps, 0, 1000000),
     "Requests per second a tenant may make (token bucket, burst of one second); 0: no limit. "
     "A tenant's own `requestsPerSecond` overrides it.", RELOADABLE},
    {"WAVECOM_RATE_TENANT_NPS", "0", INT(rate_tenant_nps, 0, 1000000),
     "Notifications per second a tenant may submit; 0: no limit. A tenant's own "
     "`notificationsPerSecond` overrides it.", RELOADABLE},
    {"WAVECOM_RATE_KEY_RPS", "0", INT(rate_key_rps, 0, 1000000),
     "Requests per second one API key may make; 0: no limit.", RELOADABLE},
    {"WAVECOM_RATE_KEY_NPS", "0", INT(rate_key_nps, 0, 1000000),
     "Notifications per second one API key may submit; 0: no limit.", RELOADABLE},
    {"WAVECOM_RATE_GLOBAL_NPS", "0", INT(rate_global_nps, 0, 10000000),
     "Ceiling of notifications per second over all tenants, per API instance; past it "
     "non-CRITICAL ones get 503 while CRITICAL ones are still taken. 0: no ceiling.", RELOADABLE},
    {"WAVECOM_TENANT_MAX_IN_FLIGHT", "0", INT(tenant_max_in_flight, 0, 100000000),
     "Most notifications of one tenant on their way (pending, queued, processing, retrying) "
     "before new ones get 429; 0: no quota. A tenant's own `maxInFlight` overrides it.",
     RELOADABLE},
    /* Hostile input: which webhook targets are accepted and reached. */
    {"WAVECOM_WEBHOOK_ALLOW_HTTP", "0", INT(webhook_allow_http, 0, 1),
     "1: accept http:// webhook URLs (loopback test doubles); otherwise https:// only.",
     RELOADABLE},
    {"WAVECOM_WEBHOOK_ALLOW_LOOPBACK", "0", INT(webhook_allow_loopback, 0, 1),
     "1: webhooks may target loopback (127.0.0.0/8, ::1: test doubles on this machine). Private, "
     "reserved, link-local and cloud metadata addresses are refused whatever it says: at intake "
     "(400) for an IP literal, at connect time (FAILED, never retried) for a host name.",
     RELOADABLE},
    {"WAVECOM_WEBHOOK_ALLOW_PRIVATE", "0", INT(webhook_allow_private, 0, 1),
     "Deprecated name of WAVECOM_WEBHOOK_ALLOW_LOOPBACK: 1 now allows loopback only.",
     RELOADABLE},
    /* Unsubscribe links (RFC 8058) in every email. */
    {"WAVECOM_PUBLIC_BASE_URL", "", STR(public_base_url, NULL),
     "The API's address as recipients reach it (https://host[:port][/prefix]); emails link to "
     "<it>/unsubscribe. Empty, or WAVECOM_UNSUBSCRIBE_SECRET empty: no List-Unsubscribe header.",
     RELOADABLE},
    {"WAVECOM_UNSUBSCRIBE_SECRET", "", STR(unsubscribe_secret, NULL),
     "HMAC-SHA256 key (32 characters or more) that signs unsubscribe links; the API and the "
     "workers must share it. Empty: no links, and /unsubscribe answers 404.", SECRET},
    {"WAVECOM_UNSUBSCRIBE_TTL_SECONDS", "2592000", INT(unsubscribe_ttl_seconds, 60, 31622400),
     "How long an unsubscribe link stays valid after its email was sent.", RELOADABLE},
    /* Secrets at rest and dashboard logins. */
    {"WAVECOM_SECRETS_KEY", "", STR(secrets_key, NULL),
     "64 hex digits: the AES-256 key that encrypts tenants' webhook secrets at rest; empty stores "
     "them as they are.", SECRET},
    {"WAVECOM_JWT_SECRET", "", STR(jwt_secret, NULL),
     "HS256 secret (32 characters or more) of dashboard users' JWTs, which carry a tenant and a "
     "role like an API key; empty: JWTs are refused.", SECRET},
    /* wavecom-api: usage per API key and monthly quotas (wavecomctl reads the retention). */
    {"WAVECOM_USAGE_FLUSH_SECONDS", "5", INT(usage_flush_seconds, 1, 300),
     "How often an API instance writes the usage it counted per API key (one bulk write); a "
     "crash loses at most this long of counts, never a notification.", RELOADABLE},
    {"WAVECOM_USAGE_RETENTION_DAYS", "90", INT(usage_retention_days, 1, 3650),
     "Days of per-key usage kept; older days are deleted by the usage writer's hourly sweep.",
     RELOADABLE},
    {"WAVECOM_QUOTA_CHUNK", "20", INT(quota_chunk, 1, 100000),
     "Notifications an API instance reserves at a time from a monthly quota's counter; with N "
     "instances up to N x (chunk - 1) of a quota may sit reserved and unused (never more sent "
     "than the quota).", RELOADABLE},
    {"WAVECOM_TEST_CLOCK_OFFSET_SECONDS", "0",
     INT(test_clock_offset_seconds, -400 * 86400, 400 * 86400),
     "Test builds only (WAVECOM_SANITIZE): moves the clock of monthly quotas by this many seconds, "
     "so that a test can roll the month over; any other build refuses a value other than 0.",
     RELOADABLE},
    /* wavecom-api: the scheduler and sweeper. */
    {"WAVECOM_SCHEDULER_ENABLED", "1", INT(scheduler_enabled, 0, 1),
     "1: this API instance releases due scheduled notifications and republishes stale ones.",
     RELOADABLE},
    {"WAVECOM_SCHEDULER_INTERVAL_MS", "1000", INT(scheduler_interval_ms, 50, 60000),
     "How often the scheduler looks for due scheduled notifications.", RELOADABLE},
    {"WAVECOM_PENDING_REPUBLISH_SECONDS", "60", INT(pending_republish_seconds, 1, 86400),
     "A notification PENDING this long (its publish never confirmed) is published again.",
     RELOADABLE},
    {"WAVECOM_SWEEP_OVERDUE_SECONDS", "120", INT(sweep_overdue_seconds, 1, 86400),
     "A RETRYING notification whose next attempt, or a PROCESSING one whose lease, ended this long "
     "ago is queued again (its queue message was lost).", RELOADABLE},
    {"WAVECOM_ENDPOINT_DISABLE_AFTER_SECONDS", "432000",
     INT(endpoint_disable_after_seconds, 1, 2592000),
     "An event endpoint that has failed every delivery attempt for this long (5 days by default) "
     "is disabled, with an audit entry and an endpoint.disabled event.", RELOADABLE},
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
    wc_broker_nodes_t *nodes = malloc(sizeof(*nodes));
    if (nodes == NULL) {
        snprintf(err, err_len, "WAVECOM_AMQP_URL: out of memory");
        return -1;
    }
    char why[200];
    int parsed = wc_broker_nodes_parse(cfg->amqp_url, nodes, why, sizeof(why));
    free(nodes);
    if (parsed != 0) {
        snprintf(err, err_len, "WAVECOM_AMQP_URL: %s", why);
        return -1;
    }
    size_t jwt_len = strlen(cfg->jwt_secret);
    if (jwt_len != 0 && jwt_len < 32) {
        snprintf(err, err_len, "WAVECOM_JWT_SECRET: must be empty or at least 32 characters");
        return -1;
    }
    size_t unsubscribe_len = strlen(cfg->unsubscribe_secret);
    if (unsubscribe_len != 0 && unsubscribe_len < 32) {
        snprintf(err, err_len,
                 "WAVECOM_UNSUBSCRIBE_SECRET: must be empty or at least 32 characters");
        return -1;
    }
    const char *base = cfg->public_base_url;
    size_t base_len = strlen(base);
    if (base_len != 0 &&
        ((strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) ||
         base[base_len - 1] == '/' || strpbrk(base, " \t\r\n<>\"?#") != NULL)) {
        snprintf(err, err_len,
                 "WAVECOM_PUBLIC_BASE_URL: must be empty or an http(s) URL without a trailing "
                 "'/', query, fragment, spaces or quotes");
        return -1;
    }
    size_t key_len = strlen(cfg->secrets_key);
    if (key_len != 0 && (key_len != 64 || strspn(cfg->secrets_key, "0123456789abcdefABCDEF") != 64)) {
        snprintf(err, err_len, "WAVECOM_SECRETS_KEY: must be empty or 64 hexadecimal digits");
        return -1;
    }
#ifndef WAVECOM_TEST_HOOKS
    if (cfg->test_clock_offset_seconds != 0) {
        snprintf(err, err_len, "WAVECOM_TEST_CLOCK_OFFSET_SECONDS: honoured only by a test build; "
                               "must be 0");
        return -1;
    }
#endif
    if (cfg->mongodb_db[0] == '\0' || strpbrk(cfg->mongodb_db, "/\\. \"$") != NULL) {
        snprintf(err, err_len, "WAVECOM_MONGODB_DB: empty or contains a character MongoDB forbids");
        return -1;
    }
    return 0;
}

/* Reads a secret from the file `path` names (a Kubernetes secret volume):
 * the whole file, without its trailing line break. Returns a new string the
 * caller frees, or NULL after writing why into `err`. */
static char *read_secret_file(const char *var, const char *path, size_t max, char *err,
                              size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s_FILE: cannot open %s: %s", var, path, strerror(errno));
        return NULL;
    }
    char *value = calloc(1, max + 1);
    size_t n = value != NULL ? fread(value, 1, max + 1, f) : 0;
    bool failed = value == NULL || ferror(f);
    fclose(f);
    if (failed || n > max) {
        snprintf(err, err_len, "%s_FILE: %s is unreadable or longer than %zu bytes", var, path, max);
        free(value);
        return NULL;
    }
    while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r')) {
        value[--n] = '\0';
    }
    if (strlen(value) != n) {
        snprintf(err, err_len, "%s_FILE: %s contains a NUL byte", var, path);
        free(value);
        return NULL;
    }
    return value;
}

int wc_config_load(wc_config_t *cfg, char *err, size_t err_len)
{
    /* Build into a scratch copy so a failure leaves the caller's whole. */
    wc_config_t next;
    memset(&next, 0, sizeof(next));
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        const char *value = getenv(e->name);
        char *from_file = NULL;
        if (e->secret) {
            char file_var[96];
            snprintf(file_var, sizeof(file_var), "%s_FILE", e->name);
            const char *path = getenv(file_var);
            if (path != NULL && value != NULL) {
                snprintf(err, err_len, "%s and %s are both set; set one", e->name, file_var);
                return -1;
            }
            if (path != NULL) {
                from_file = read_secret_file(e->name, path, e->size, err, err_len);
                if (from_file == NULL) {
                    return -1;
                }
                value = from_file;
            }
        }
        if (value == NULL) {
            value = e->default_value;
        }
        int rc = set_entry(&next, e, value, err, err_len);
        free(from_file);
        if (rc != 0) {
            return -1;
        }
    }
    if (next.worker_processes == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        next.worker_processes = cores > 0 ? (int)(cores > 256 ? 256 : cores) : 1;
    }
    /* The old all-or-nothing switch kept working for the stacks that set it,
     * narrowed to what they needed: the doubles on loopback. */
    if (next.webhook_allow_private != 0) {
        next.webhook_allow_loopback = 1;
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
        fprintf(out, "  %-30s %s%s%s%s (default: \"%s\")\n", e->name, e->help,
                e->secret ? " Secret: or from the file named by " : "", e->secret ? e->name : "",
                e->secret ? "_FILE." : "", e->default_value);
    }
}

void wc_config_print_markdown(FILE *out)
{
    fprintf(out, "| Variable | Default | Meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        char secret_note[128] = "";
        if (e->secret) {
            snprintf(secret_note, sizeof(secret_note),
                     " Secret: or from the file named by %s_FILE.", e->name);
        }
        if (e->default_value[0] == '\0') {
            fprintf(out, "| `%s` | (empty) | %s%s |\n", e->name, e->help, secret_note);
        } else {
            fprintf(out, "| `%s` | `%s` | %s%s |\n", e->name, e->default_value, e->help,
                    secret_note);
        }
    }
}

static const cfg_entry_t *entry_named(const char *name)
{
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        if (strcmp(config_table[i].name, name) == 0) {
            return &config_table[i];
        }
    }
    return NULL;
}

size_t wc_config_count(void) { return CONFIG_COUNT; }

const char *wc_config_name(size_t i) { return i < CONFIG_COUNT ? config_table[i].name : NULL; }

bool wc_config_is_secret(const char *name)
{
    const cfg_entry_t *e = entry_named(name);
    return e != NULL && e->secret;
}

bool wc_config_is_reloadable(const char *name)
{
    const cfg_entry_t *e = entry_named(name);
    return e != NULL && e->reloadable;
}

int wc_config_display_value(const wc_config_t *cfg, const char *name, char *out, size_t out_len)
{
    const cfg_entry_t *e = entry_named(name);
    if (e == NULL || out_len == 0) {
        return -1;
    }
    const char *field = (const char *)cfg + e->offset;
    if (e->secret) {
        snprintf(out, out_len, "%s", field[0] == '\0' ? "" : WC_CONFIG_MASK);
    } else if (e->type == CFG_STRING) {
        snprintf(out, out_len, "%s", field);
    } else {
        snprintf(out, out_len, "%d", *(const int *)(const void *)field);
    }
    return 0;
}

/* Whether the row's field is the same in both configurations. */
static bool same_value(const cfg_entry_t *e, const wc_config_t *a, const wc_config_t *b)
{
    const char *x = (const char *)a + e->offset;
    const char *y = (const char *)b + e->offset;
    if (e->type == CFG_STRING) {
        return strncmp(x, y, e->size) == 0;
    }
    return *(const int *)(const void *)x == *(const int *)(const void *)y;
}

int wc_config_reload(wc_config_t *current, const wc_config_t *next, char *kept, size_t kept_len)
{
    wc_config_t merged = *next;
    int count = 0;
    if (kept_len > 0) {
        kept[0] = '\0';
    }
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const cfg_entry_t *e = &config_table[i];
        if (e->reloadable || same_value(e, current, next)) {
            continue;
        }
        memcpy((char *)&merged + e->offset, (const char *)current + e->offset, e->size);
        if (kept_len > 0) {
            size_t used = strlen(kept);
            snprintf(kept + used, kept_len - used, "%s%s", count > 0 ? ", " : "", e->name);
        }
        count++;
    }
    *current = merged;
    return count;
}
