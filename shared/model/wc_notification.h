/*
 * The notification: its enums, the validation of a client's request, the
 * document stored in MongoDB, the audit entries appended to it, the JSON the
 * API answers with, and the message put on the queues.
 */
#ifndef WC_NOTIFICATION_H
#define WC_NOTIFICATION_H

#include <bson/bson.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "wc_recipient.h"

typedef enum {
    WC_CHANNEL_EMAIL,
    WC_CHANNEL_SMS,
    WC_CHANNEL_PUSH,
    WC_CHANNEL_WEBHOOK,
    WC_CHANNEL_COUNT
} wc_channel_t;

typedef enum {
    WC_STATUS_PENDING,
    WC_STATUS_QUEUED,
    WC_STATUS_PROCESSING,
    WC_STATUS_SENT,
    WC_STATUS_FAILED,
    WC_STATUS_RETRYING,
    WC_STATUS_SCHEDULED,
    WC_STATUS_CANCELLED,
    WC_STATUS_SUPPRESSED, /* never sent: suppressed or opted out (docs/ARCHITECTURE.md §16) */
    WC_STATUS_COUNT
} wc_status_t;

typedef enum {
    WC_PRIORITY_LOW,
    WC_PRIORITY_MEDIUM,
    WC_PRIORITY_HIGH,
    WC_PRIORITY_CRITICAL,
    WC_PRIORITY_COUNT
} wc_priority_t;

const char *wc_channel_name(wc_channel_t channel);
const char *wc_status_name(wc_status_t status);
const char *wc_priority_name(wc_priority_t priority);
/* Each returns 0 and sets *out, or -1 for a name that is not one of the enum's. */
int wc_channel_parse(const char *name, wc_channel_t *out);
int wc_status_parse(const char *name, wc_status_t *out);
int wc_priority_parse(const char *name, wc_priority_t *out);

/* The routing key, and queue, of a priority class: CRITICAL and HIGH go to
 * "high_priority", MEDIUM and LOW to "notifications". */
const char *wc_priority_routing_key(wc_priority_t priority);

/* Limits from the API contract. */
#define WC_MESSAGE_MAX_CHARS 5000
#define WC_SMS_MESSAGE_MAX_CHARS 1600
#define WC_SUBJECT_MAX_CHARS 255
#define WC_HTML_MAX_CHARS 20000 /* an EMAIL's HTML part */
#define WC_TITLE_MAX_CHARS 255
#define WC_RECIPIENT_MAX_BYTES 254 /* an email address; other channels have their own */
#define WC_METADATA_MAX_BYTES 16384
#define WC_PUSH_DATA_MAX_BYTES 4096
#define WC_WEBHOOK_PAYLOAD_MAX_BYTES 65536
#define WC_MAX_RETRIES_LIMIT 10
#define WC_USER_ID_MAX_CHARS 128
#define WC_CATEGORY_MAX_CHARS 64
/* How far ahead scheduledAt may lie. */
#define WC_SCHEDULE_MAX_AHEAD_MS (366LL * 24 * 3600 * 1000)

/* Validation errors, each naming the field and the rule it broke. */
#define WC_FIELD_ERRORS_MAX 16

typedef struct {
    char field[64];
    char rule[32];
    char message[192];
} wc_field_error_t;

typedef struct {
    size_t count;
    wc_field_error_t items[WC_FIELD_ERRORS_MAX];
} wc_field_errors_t;

void wc_field_errors_add(wc_field_errors_t *errs, const char *field, const char *rule,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* [{"field":..,"rule":..,"message":..}, ...] as a new reference. */
json_object *wc_field_errors_to_json(const wc_field_errors_t *errs);

/* Whether a client JSON value can be stored as BSON as given: object keys
 * non-empty, without '.' and not starting with '$' (libmongoc refuses them),
 * numbers representable, no array directly inside an array (FerretDB 1.x
 * refuses those). Reports the first offence under `field` (rule "key",
 * "number" or "nested_array") and returns false. */
bool wc_json_tree_storable(json_object *value, const char *field, wc_field_errors_t *errs);

/* A validated request. The strings and JSON values borrow from the parsed
 * body, which must outlive this struct. */
typedef struct {
    wc_channel_t type;
    const char *recipient; /* email address, E.164 number, device token or URL */
    const char *subject;   /* EMAIL only; NULL elsewhere */
    const char *html;      /* EMAIL only: the HTML alternative of `message`; NULL when absent */
    const char *message;   /* NULL only for a WEBHOOK without a description */
    wc_priority_t priority;
    int max_retries;         /* -1 when absent: the server's default applies */
    json_object *metadata;   /* NULL when absent */
    int64_t scheduled_at_ms; /* -1 when absent */

    /* PUSH */
    wc_push_platform_t platform;
    const char *title; /* NULL when absent */
    json_object *data; /* an object of strings; NULL when absent */

    /* WEBHOOK */
    json_object *payload; /* an object or an array */

    /* The sender's id of the person addressed, whose preferences apply, and
     * the message's category (docs/ARCHITECTURE.md §16); NULL when absent. */
    const char *user_id;
    const char *category;

    /* Not from the body: the API sets it from the Idempotency-Key header. */
    const char *idempotency_key;
    /* Not from the body either: for content rendered from a template, the
     * template, version and locale it came from (stored as "template"). */
    json_object *template_ref;
} wc_notification_request_t;

typedef struct {
    bool allow_http_webhooks;     /* WAVECOM_WEBHOOK_ALLOW_HTTP */
    bool allow_loopback_webhooks; /* WAVECOM_WEBHOOK_ALLOW_LOOPBACK */
    int64_t now_ms;           /* the clock scheduledAt is checked against */
} wc_validation_options_t;

/* Checks a create request against every rule of its channel and reports every
 * violation (up to WC_FIELD_ERRORS_MAX) as field + rule. Rules: required, type,
 * enum, length, nul, control, unknown, unexpected (a field of another channel),
 * email, e164, token, url, scheme, userinfo, fragment, destination (a
 * webhook host that is an IP literal webhooks may not reach, wc_netaddr.h),
 * range, format, size, key, number. Returns true when `errs` stays empty; `out` is meaningful only
 * then. */
bool wc_notification_validate_opts(json_object *body, const wc_validation_options_t *opts,
                                   wc_notification_request_t *out, wc_field_errors_t *errs);

/* The same with http:// webhooks refused and the current time. */
bool wc_notification_validate(json_object *body, wc_notification_request_t *out,
                              wc_field_errors_t *errs);

/* Whether `name` is a category name: 1 to WC_CATEGORY_MAX_CHARS of a-z,
 * 0-9, '_', '-' and '.', starting with a letter or digit. */
bool wc_category_name_valid(const char *name);

/* Who caused an audit entry, e.g. "api", "worker:host:pid", "ctl:alice". */
typedef struct {
    const char *actor;
    const char *message;
} wc_audit_t;


/* What the trail says of a notification's first two changes. */
#define WC_MESSAGE_CREATED "Notification created"
#define WC_MESSAGE_QUEUED "Added to queue"

/* Builds the document to insert: status QUEUED (SCHEDULED when scheduledAt
 * lies after `now_ms`), retryCount 0, timestamps, the tenant, the channel's
 * own fields (platform, title, data; payload), idempotencyKey when set, and
 * the number (`seq`) and entry (`last`) of its latest trail change, and the
 * number of changes its creation made (`createdSeq`), whose trail entries
 * readers derive from it (docs/ARCHITECTURE.md §3.2). Returns a new
 * document the caller destroys, or NULL if a JSON value cannot be stored as
 * BSON. */
bson_t *wc_notification_new_document(const wc_notification_request_t *req, const bson_oid_t *id,
                                     const char *tenant_id, int default_max_retries,
                                     const char *correlation_id, int64_t now_ms);

/* The list bucket of a notification: "<tenantId>:<createdAt floored to the
 * minute, in ms>", stored as field listBucket. The list reads a page by
 * equality on it (see wc_store_counters.h). Returns 0, or -1 when `out` is too
 * small. */
#define WC_LIST_BUCKET_MS 60000LL
#define WC_LIST_BUCKET_LEN 64
int wc_notification_list_bucket(char *out, size_t len, const char *tenant_id, int64_t created_ms);

/* The one-second slot of its list bucket a notification was created in,
 * "<tenant>:<the second's start, ms>", stored and indexed as field listSlot:
 * a page inside a busy minute reads one or two seconds, not the whole minute
 * (docs/READS.md). 0, or -1 when `len` is too small. */
#define WC_LIST_SLOT_MS 1000LL
#define WC_LIST_SLOTS ((int)(WC_LIST_BUCKET_MS / WC_LIST_SLOT_MS))
int wc_notification_list_slot(char *out, size_t len, const char *tenant_id, int64_t created_ms);

/* The UTC day a notification was created in, with its type and priority
 * (which never change): "<tenant>:<the day's start, ms>:<TYPE>:<PRIORITY>",
 * stored and indexed as field listDayKind. A filter that matches a few of an
 * ordinary day's notifications reads them at once by it, not the day's hours
 * and minutes first; the type and priority in the key keep PostgreSQL from
 * reading every notification of the day to find them (docs/READS.md). 0, or
 * -1 when `len` is too small. */
#define WC_LIST_DAY_MS 86400000LL
int wc_notification_list_day_kind(char *out, size_t len, const char *tenant_id,
                                  int64_t created_ms, wc_channel_t type, wc_priority_t priority);

/* The notification as the API shows it: `_id` as hex, dates ISO 8601, and
 * without internal fields (the lease, the audit trail, the sweeper's
 * counter). New reference. */
json_object *wc_notification_to_api_json(const bson_t *doc);

/* The status a new document starts in. */
wc_status_t wc_notification_initial_status(const wc_notification_request_t *req, int64_t now_ms);


/* The message put on the queues. The document stays the source of truth: the
 * message names it and carries what routing and logging need. */
typedef struct {
    char notification_id[25];
    char tenant_id[64];
    char correlation_id[64];
    wc_channel_t type;
    wc_priority_t priority;
    int retry_count;
    /* An event's delivery names its endpoint, whose rate limit the worker
     * keeps before the claim; "" otherwise. */
    char endpoint_id[25];
    /* The slot a paced delivery holds (Unix ms), while it waits in a delay
     * queue; 0 when it has none (docs/ARCHITECTURE.md §14). */
    int64_t send_at_ms;
} wc_queue_message_t;

/* Fills `msg` from a stored document. Returns 0, or -1 if a field is missing. */
int wc_queue_message_from_document(const bson_t *doc, wc_queue_message_t *msg);

/* Serialises `msg` as JSON into a new string the caller frees. */
char *wc_queue_message_encode(const wc_queue_message_t *msg, size_t *len);

/* Parses a queue message body. Returns 0, or -1 with a reason in `why`. */
int wc_queue_message_decode(const char *body, size_t len, wc_queue_message_t *msg,
                            const char **why);

/* Reads a top-level string field of a document; NULL when absent or not a string. */
const char *wc_doc_string(const bson_t *doc, const char *key);

/* Reads a top-level integer field (int32 or int64); `fallback` when absent. */
int64_t wc_doc_int(const bson_t *doc, const char *key, int64_t fallback);

/* Reads a top-level date field as Unix milliseconds; `fallback` when absent or not a date. */
int64_t wc_doc_date(const bson_t *doc, const char *key, int64_t fallback);

#endif
