#include "wc_suppression.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* One row per reason: its name, and whether it binds a transactional
 * message (wc_suppress_reason_binds_transactional). */
static const struct {
    const char *name;
    bool binds_transactional;
} reasons[WC_SUPPRESS_REASON_COUNT] = {
    [WC_SUPPRESS_NONE] = {"", false},
    [WC_SUPPRESS_UNSUBSCRIBED] = {"unsubscribed", false},
    [WC_SUPPRESS_HARD_BOUNCE] = {"hard_bounce", true},
    [WC_SUPPRESS_COMPLAINT] = {"complaint", true},
    [WC_SUPPRESS_INVALID_NUMBER] = {"invalid_number", true},
    [WC_SUPPRESS_MANUAL] = {"manual", true},
};

static bool in_enum(wc_suppress_reason_t reason)
{
    return (int)reason >= 0 && (int)reason < WC_SUPPRESS_REASON_COUNT;
}

const char *wc_suppress_reason_name(wc_suppress_reason_t reason)
{
    return in_enum(reason) ? reasons[reason].name : "";
}

int wc_suppress_reason_parse(const char *name, wc_suppress_reason_t *out)
{
    for (int r = WC_SUPPRESS_NONE + 1; name != NULL && r < WC_SUPPRESS_REASON_COUNT; r++) {
        if (strcmp(reasons[r].name, name) == 0) {
            *out = (wc_suppress_reason_t)r;
            return 0;
        }
    }
    return -1;
}

bool wc_suppress_reason_binds_transactional(wc_suppress_reason_t reason)
{
    return in_enum(reason) && reasons[reason].binds_transactional;
}

int wc_suppression_recipient_key(wc_channel_t channel, const char *recipient, char *out,
                                 size_t len)
{
    size_t n = strlen(recipient);
    if (n >= len) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)recipient[i];
        out[i] = channel == WC_CHANNEL_EMAIL ? (char)tolower(c) : (char)c;
    }
    out[n] = '\0';
    return 0;
}

int wc_suppression_id(const char *tenant_id, wc_channel_t channel, const char *recipient,
                      char *out, size_t len)
{
    char key[WC_SUPPRESSION_ID_LEN];
    if (wc_suppression_recipient_key(channel, recipient, key, sizeof(key)) != 0) {
        return -1;
    }
    int n = snprintf(out, len, "%s:%s:%s", tenant_id, wc_channel_name(channel), key);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

wc_suppression_verdict_t wc_suppression_decide(const wc_suppression_facts_t *facts)
{
    if (facts->listed != WC_SUPPRESS_NONE &&
        (!facts->transactional || wc_suppress_reason_binds_transactional(facts->listed))) {
        return WC_VERDICT_SUPPRESSED;
    }
    if (facts->transactional) {
        return WC_VERDICT_SEND;
    }
    if (facts->channel_opted_out) {
        return WC_VERDICT_OPTED_OUT_CHANNEL;
    }
    return facts->category_opted_out ? WC_VERDICT_OPTED_OUT_CATEGORY : WC_VERDICT_SEND;
}
