/*
 * Configuration from WAVECOM_* environment variables.
 *
 * One table (wc_config.c) names every variable with its type, default, bounds
 * and meaning; parsing, validation, --help and the table in
 * docs/CONFIGURATION.md all come from it. A bad value is rejected at start
 * with a message naming the variable, and a configuration is applied whole or
 * not at all.
 */
#ifndef WC_CONFIG_H
#define WC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define WC_CONFIG_STR_MAX 512

typedef struct {
    /* Shared by every process. */
    char mongodb_uri[WC_CONFIG_STR_MAX];
    char mongodb_db[64];
    char amqp_url[WC_CONFIG_STR_MAX * 4]; /* a list of nodes: room for several URLs */
    char queue_type[16];
    int quorum_group_size;
    char log_level[16];
    int max_retries;

    /* wavecom-api */
    char api_host[64];
    int api_port;
    int api_threads;
    int api_max_body_bytes;
    int api_connection_limit;
    int api_per_ip_limit;
    int api_timeout_seconds;

    /* wavecom-worker */
    int worker_processes;
    int worker_prefetch;
    int worker_store_threads;
    int drain_grace_seconds;
    int lease_seconds;
    int publish_timeout_seconds;
    int outcome_retry_seconds;
    char worker_metrics_host[64];
    int worker_metrics_port;
    char worker_id[128];
    int worker_report_seconds;
    char smtp_host[256];
    int smtp_port;
    char smtp_starttls[16];
    char smtp_user[256];
    char smtp_password[256];
    char smtp_from[256];
    int smtp_timeout_seconds;
    int smtp_sessions;
    /* The second SMTP relay (empty host: none) and the email failover order. */
    char smtp2_host[256];
    int smtp2_port;
    char email_providers[64];
    /* RFC 8058 unsubscribe links (docs/ARCHITECTURE.md §16). */
    char public_base_url[512];
    char unsubscribe_secret[256];
    int unsubscribe_ttl_seconds;

    /* Delivery providers (wavecom-worker) */
    int worker_high_only;
    int provider_timeout_ms;
    char provider_ca_file[WC_CONFIG_STR_MAX];
    int breaker_threshold;
    int breaker_open_seconds;
    char twilio_url[WC_CONFIG_STR_MAX];
    char twilio_account_sid[128];
    char twilio_auth_token[256];
    char twilio_from[64];
    char vonage_url[WC_CONFIG_STR_MAX];
    char vonage_api_key[128];
    char vonage_api_secret[256];
    char vonage_from[64];
    char sms_providers[128];
    char fcm_url[WC_CONFIG_STR_MAX];
    char fcm_service_account_file[WC_CONFIG_STR_MAX];
    char apns_url[WC_CONFIG_STR_MAX];
    char apns_key_file[WC_CONFIG_STR_MAX];
    char apns_key_id[32];
    char apns_team_id[32];
    char apns_topic[256];

    /* Intake API (wavecom-api) */
    int webhook_allow_http;
    int api_max_batch_body_bytes;
    int api_committers;
    int api_commit_max_items;
    int api_intake_queue_limit;
    int api_auth_cache_seconds;
    int api_stats_cache_seconds;
    int api_list_cache_seconds;
    int api_version_fresh_ms;
    int rate_tenant_rps;
    int rate_tenant_nps;
    int rate_key_rps;
    int rate_key_nps;
    int rate_global_nps;
    int tenant_max_in_flight;
    int webhook_allow_loopback;
    int webhook_allow_private; /* deprecated: sets webhook_allow_loopback */
    char secrets_key[65];
    char jwt_secret[256];
    int usage_flush_seconds;
    int usage_retention_days;
    int quota_chunk;
    int test_clock_offset_seconds;
    int scheduler_enabled;
    int scheduler_interval_ms;
    int pending_republish_seconds;
    int endpoint_disable_after_seconds;
    int sweep_overdue_seconds;
} wc_config_t;

/* Fills `cfg` from the environment over the defaults. Returns 0, or -1 after
 * writing "VARIABLE: reason" into `err`; `cfg` is then left untouched. */
int wc_config_load(wc_config_t *cfg, char *err, size_t err_len);

/* Prints every variable with its default and meaning, for --help. */
void wc_config_print_help(FILE *out);

/* Prints the table as Markdown, for docs/CONFIGURATION.md. */
void wc_config_print_markdown(FILE *out);

/* The rows of the table, in order: how many, and the name of row `i` (NULL
 * past the end). */
size_t wc_config_count(void);
const char *wc_config_name(size_t i);

/* Whether the variable `name` is a secret (false for an unknown name). A
 * secret may come from the file named by <NAME>_FILE and is never shown. */
bool wc_config_is_secret(const char *name);

/* Whether a SIGHUP may change the variable `name` in a running worker master
 * (false for an unknown name). */
bool wc_config_is_reloadable(const char *name);

/* What a secret that is set shows instead of its value. */
#define WC_CONFIG_MASK "********"

/* Writes the value of `name` in `cfg` as text for a person to read (logs,
 * command output): WC_CONFIG_MASK for a secret that is set, "" for one that
 * is not. Returns 0, or -1 for an unknown name. */
int wc_config_display_value(const wc_config_t *cfg, const char *name, char *out, size_t out_len);

/* Applies a SIGHUP's newly loaded `next` to `current`, except the rows that
 * are not reloadable: where `next` changes one, `current` keeps its value and
 * the row's name is listed in `kept` (comma-separated, cut at kept_len).
 * Returns how many rows were kept back. */
int wc_config_reload(wc_config_t *current, const wc_config_t *next, char *kept, size_t kept_len);

#endif
