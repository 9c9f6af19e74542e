/*
 * Suppression and recipient preferences as pure rules (docs/ARCHITECTURE.md
 * §16): the reasons a recipient is on a tenant's suppression list, the key
 * an entry is stored under, and the decision whether a notification may be
 * sent given what the store holds about its recipient. No I/O: the worker
 * reads the facts (wc_store_suppressions.h) and this decides;
 * tests/unit/test_suppression.c checks the table cell by cell.
 */
#ifndef WC_SUPPRESSION_H
#define WC_SUPPRESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "wc_notification.h"

typedef enum {
    WC_SUPPRESS_NONE,           /* not on the list */
    WC_SUPPRESS_UNSUBSCRIBED,   /* the recipient asked to hear no more */
    WC_SUPPRESS_HARD_BOUNCE,    /* the mailbox does not exist (SMTP 5.1.x) */
    WC_SUPPRESS_COMPLAINT,      /* the recipient reported the mail as spam */
    WC_SUPPRESS_INVALID_NUMBER, /* not a reachable number or device token */
    WC_SUPPRESS_MANUAL,         /* an operator put it there */
    WC_SUPPRESS_REASON_COUNT
} wc_suppress_reason_t;

/* "unsubscribed", "hard_bounce", "complaint", "invalid_number", "manual";
 * "" for WC_SUPPRESS_NONE. */
const char *wc_suppress_reason_name(wc_suppress_reason_t reason);
/* 0 and *out for one of the names above (not ""), else -1. */
int wc_suppress_reason_parse(const char *name, wc_suppress_reason_t *out);
/* Every reason name, comma-separated, for error messages. */
#define WC_SUPPRESS_REASON_NAMES "unsubscribed, hard_bounce, complaint, invalid_number, manual"

/* Whether an entry with `reason` also stops a transactional notification:
 * the address itself is unusable (hard_bounce, invalid_number), the recipient
 * complained, or an operator blocked it. Only "unsubscribed" is an opt-out a
 * transactional category (e.g. a one-time password) overrides. */
bool wc_suppress_reason_binds_transactional(wc_suppress_reason_t reason);

/* The form of a recipient an entry is keyed by: an email address in lower
 * case (mailboxes are matched without regard to case in practice), any other
 * channel's recipient as given. 0, or -1 when `out` is too small. */
int wc_suppression_recipient_key(wc_channel_t channel, const char *recipient, char *out,
                                 size_t len);

/* The _id of the entry for (tenant, channel, recipient):
 * "<tenant>:<CHANNEL>:<recipient key>". 0, or -1 when `out` is too small. */
#define WC_SUPPRESSION_ID_LEN 4400 /* a tenant, a channel and a push token of up to 4096 */
int wc_suppression_id(const char *tenant_id, wc_channel_t channel, const char *recipient,
                      char *out, size_t len);

/* What the store knows about one notification's recipient. */
typedef struct {
    wc_suppress_reason_t listed; /* the suppression entry's reason, NONE when none */
    bool channel_opted_out;      /* the user's preferences opt out of this channel */
    bool category_opted_out;     /* ... or of this notification's category */
    bool transactional;          /* the notification's category is transactional */
} wc_suppression_facts_t;

typedef enum {
    WC_VERDICT_SEND,
    WC_VERDICT_SUPPRESSED,        /* the suppression list holds the recipient */
    WC_VERDICT_OPTED_OUT_CHANNEL, /* the user opted out of the channel */
    WC_VERDICT_OPTED_OUT_CATEGORY /* the user opted out of the category */
} wc_suppression_verdict_t;

/* The decision: a listed recipient is not sent to unless the category is
 * transactional and the reason does not bind transactional messages; an
 * opt-out stops every message but a transactional one. */
wc_suppression_verdict_t wc_suppression_decide(const wc_suppression_facts_t *facts);

#endif
