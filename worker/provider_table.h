/*
 * The providers a worker child delivers through, one row each. Adding a
 * provider is a row here, its constructor in providers/ and its file in
 * CMakeLists.txt (docs/ARCHITECTURE.md §12 item 1); the kinds, the routing of
 * a notification, the breaker slots, the metrics labels and the child's
 * constructors all come from this table.
 *
 * The columns of X(KIND, name, channel, type, platform, breakers, required,
 * constructor):
 *   KIND        PROVIDER_<KIND>, its index in every per-provider array;
 *   name        its metrics label and breaker name;
 *   channel     what logs and the audit trail call the job's channel;
 *   type        the notification type it delivers;
 *   platform    the PUSH platform it takes, NULL for the type's others;
 *   breakers    ONE (a breaker of its own, whose slot is its kind) or
 *               PER_HOST (one per target host, breakers.h); the rows with ONE
 *               come first;
 *   required    a child does not start without it;
 *   constructor returns the provider, or NULL when it is not configured.
 *
 * It is a macro so that files needing only the names (metrics, breakers, and
 * their unit tests) do not link every provider.
 */
#ifndef WORKER_PROVIDER_TABLE_H
#define WORKER_PROVIDER_TABLE_H

#include <stdbool.h>

#include "wc_notification.h"

#define WORKER_PROVIDERS(X)                                                                     \
    X(SMTP, "smtp", "email", WC_CHANNEL_EMAIL, NULL, ONE, true, provider_smtp_new)              \
    X(SMTP2, "smtp2", "email", WC_CHANNEL_EMAIL, NULL, ONE, false, provider_smtp2_new)          \
    X(TWILIO, "twilio", "sms", WC_CHANNEL_SMS, NULL, ONE, false, provider_twilio_new)           \
    X(VONAGE, "vonage", "sms", WC_CHANNEL_SMS, NULL, ONE, false, provider_vonage_new)           \
    X(FCM, "fcm", "fcm", WC_CHANNEL_PUSH, NULL, ONE, false, provider_fcm_new)                   \
    X(APNS, "apns", "apns", WC_CHANNEL_PUSH, "apns", ONE, false, provider_apns_new)             \
    X(WEBHOOK, "webhook", "webhook", WC_CHANNEL_WEBHOOK, NULL, PER_HOST, true,                  \
      provider_webhook_new)

#define WORKER_PROVIDER_KIND_(kind, ...) PROVIDER_##kind,
enum { WORKER_PROVIDERS(WORKER_PROVIDER_KIND_) PROVIDER_COUNT };
#undef WORKER_PROVIDER_KIND_

#define WORKER_PROVIDER_ONE 1
#define WORKER_PROVIDER_PER_HOST 0
#define WORKER_PROVIDER_COUNT_ONE_(kind, name, channel, type, platform, breakers, ...)           \
    +WORKER_PROVIDER_##breakers
/* How many providers have a breaker of their own: slots 0 to this minus one. */
enum { PROVIDER_ONE_BREAKER_COUNT = 0 WORKER_PROVIDERS(WORKER_PROVIDER_COUNT_ONE_) };
#undef WORKER_PROVIDER_COUNT_ONE_

typedef struct {
    const char *name;
    const char *channel;
    wc_channel_t type;
    const char *platform;
    bool breaker_per_host;
    bool required;
} worker_provider_info_t;

/* The table's rows without their constructors, indexed by PROVIDER_*. */
extern const worker_provider_info_t worker_providers[PROVIDER_COUNT];

/* The provider kind for a notification of `type` and `platform` (NULL when
 * it has none): a row naming that platform, else the type's row without one.
 * -1 when no row delivers it. */
int worker_provider_route(wc_channel_t type, const char *platform);

/* The failover order of a channel: `list` names providers of `type`, comma
 * separated, first the primary (WAVECOM_SMS_PROVIDERS). Fills `out` with
 * their kinds and returns how many, or -1 with `err` naming what is wrong
 * (an unknown name, another channel's provider, a repeat, an empty list). */
int worker_provider_order_parse(wc_channel_t type, const char *list, int out[PROVIDER_COUNT],
                                char *err, size_t err_len);

#endif
