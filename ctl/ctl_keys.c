/*
 * wavecomctl's view of API key usage and quotas (docs/ARCHITECTURE.md §13):
 * the usage columns of `apikey list`, `apikey usage`, `apikey quota` and
 * `tenant quota`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wc_json.h"
#include "wc_store_ops.h"
#include "wc_store_quota.h"
#include "wc_store_usage.h"
#include "wc_time.h"

#define USAGE_DAYS_DEFAULT 30
#define USAGE_DAYS_MAX 3650

static const char *row_string(json_object *row, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(row, key, &v) && v != NULL ? json_object_get_string(v) : NULL;
}

int ctl_keys_add_usage(ctl_t *ctl, json_object *rows)
{
    int64_t now = wc_time_now_ms();
    char tenant[25] = "";
    wc_usage_summary_t *sums = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        const char *t = row_string(row, "tenant");
        const char *hint = row_string(row, "hint");
        if (t == NULL) {
            continue;
        }
        /* Rows come grouped closely enough by tenant; read each tenant's
         * summaries when it changes. */
        if (strcmp(t, tenant) != 0) {
            free(sums);
            sums = NULL;
            n = 0;
            snprintf(tenant, sizeof(tenant), "%s", t);
            if (wc_store_usage_summaries(ctl->store, tenant, now, ctl->cfg.usage_retention_days,
                                         &sums, &n) != WC_STORE_OK) {
                rc = -1;
                break;
            }
        }
        const wc_usage_summary_t *s = wc_usage_summary_find(sums, n, hint);
        int64_t created = 0;
        const char *created_text = row_string(row, "createdAt");
        if (created_text != NULL) {
            wc_time_parse_iso8601(created_text, &created);
        }
        json_object_object_add(row, "lastUsedAt", wc_json_date(s != NULL ? s->last_at_ms : 0));
        json_object_object_add(row, "lastUsedFrom",
                               s != NULL && s->last_at_ms > 0
                                   ? json_object_new_string(s->last_from)
                                   : NULL);
        json_object_object_add(row, "requests30d", json_object_new_int64(s ? s->requests : 0));
        json_object_object_add(row, "accepted30d", json_object_new_int64(s ? s->accepted : 0));
        json_object_object_add(row, "refused30d", json_object_new_int64(s ? s->refused : 0));
        json_object_object_add(
            row, "stale",
            json_object_new_boolean(wc_usage_key_is_stale(created, s ? s->last_at_ms : 0, now)));
    }
    free(sums);
    return rc;
}

static void usage_usage(FILE *out)
{
    fprintf(out, "Usage:\n"
                 "  wavecomctl apikey usage KEY|HINT [--days N] [--json]\n"
                 "      The key's usage per UTC day over the last N days (default 30):\n"
                 "      requests by class, notifications accepted by channel, refusals,\n"
                 "      first and last use. Counts reach the database within\n"
                 "      WAVECOM_USAGE_FLUSH_SECONDS of the request.\n");
}

static int parse_count(const char *name, const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        ctl_error("%s must be a whole number from %ld to %ld", name, min, max);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int ctl_apikey_usage(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {
        {.name = "--days", .has_value = true}, {.name = "--json"}, {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, 3, usage_usage, &pos, 1);
    if (parsed != 0) {
        return parsed;
    }
    long days = USAGE_DAYS_DEFAULT;
    if (pos.n != 1) {
        ctl_error("apikey usage takes one key, or the hint apikey list shows");
        return CTL_EXIT_USAGE;
    }
    if (opts[0].present && parse_count("--days", opts[0].value, 1, USAGE_DAYS_MAX, &days) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (!ctl_key_named(pos.word[0])) {
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    char key_id[17], tenant[25], hint[13];
    int rc = ctl_key_lookup_exit(wc_store_find_api_key(ctl->store, pos.word[0], key_id, tenant, hint),
                                 pos.word[0], "looking the key up");
    if (rc != 0) {
        return rc;
    }
    int64_t now = wc_time_now_ms();
    int64_t today = now - now % WC_DAY_MS;
    wc_usage_day_t *rows = NULL;
    size_t n = 0;
    if (wc_store_usage_read(ctl->store, tenant, key_id, today - (days - 1) * WC_DAY_MS, today,
                            (size_t)days, &rows, &n) != WC_STORE_OK) {
        ctl_error("the database failed while reading the key's usage");
        return CTL_EXIT_INFRA;
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const wc_usage_day_t *d = &rows[i];
        char day[11];
        wc_usage_day_name(d->day_ms, day);
        json_object *row = json_object_new_object();
        json_object_object_add(row, "day", json_object_new_string(day));
        wc_usage_add_counts_json(row, d->requests, d->accepted, d->refused);
        json_object_object_add(row, "firstUseAt", wc_json_date(d->first_at_ms));
        json_object_object_add(row, "firstUseFrom", json_object_new_string(d->first_from));
        json_object_object_add(row, "lastUseAt", wc_json_date(d->last_at_ms));
        json_object_object_add(row, "lastUseFrom", json_object_new_string(d->last_from));
        json_object_array_add(list, row);
    }
    if (opts[1].present || ctl->json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "hint", json_object_new_string(hint));
        json_object_object_add(out, "tenant", json_object_new_string(tenant));
        json_object_object_add(out, "days", list);
        ctl_print_json(out);
        free(rows);
        return 0;
    }
    printf("%s (tenant %s), last %ld days\n", hint, tenant, days);
    printf("%-10s  %6s %6s %6s %6s  %6s %6s %6s %7s  %5s %5s %5s %5s  %-24s  %s\n", "DAY", "READ",
           "SEND", "OPER", "ADMIN", "EMAIL", "SMS", "PUSH", "WEBHOOK", "401", "403", "429", "503",
           "LAST USE", "FROM");
    for (size_t i = 0; i < n; i++) {
        const wc_usage_day_t *d = &rows[i];
        char day[11], last[WC_ISO8601_LEN] = "-";
        wc_usage_day_name(d->day_ms, day);
        if (d->last_at_ms > 0) {
            wc_time_format_iso8601(d->last_at_ms, last, sizeof(last));
        }
        printf("%-10s  %6lld %6lld %6lld %6lld  %6lld %6lld %6lld %7lld  %5lld %5lld %5lld %5lld  "
               "%-24s  %s\n",
               day, (long long)d->requests[0], (long long)d->requests[1],
               (long long)d->requests[2], (long long)d->requests[3], (long long)d->accepted[0],
               (long long)d->accepted[1], (long long)d->accepted[2], (long long)d->accepted[3],
               (long long)d->refused[0], (long long)d->refused[1], (long long)d->refused[2],
               (long long)d->refused[3], last, d->last_from[0] != '\0' ? d->last_from : "-");
    }
    json_object_put(list);
    free(rows);
    return 0;
}

/* ---- quotas ---- */

static void quota_usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  wavecomctl tenant quota ID [--monthly N] [--email N] [--sms N] [--push N]\n"
            "                             [--webhook N] [--critical-exempt] [--json]\n"
            "  wavecomctl apikey quota KEY|HINT [--monthly N] [--email N] [--sms N] [--push N]\n"
            "                                   [--webhook N] [--json]\n"
            "      Sets the monthly notification quota (calendar month, UTC) of a tenant or\n"
            "      a key: in all and per channel. The options given replace the whole quota;\n"
            "      none removes it. --critical-exempt: the tenant's CRITICAL notifications\n"
            "      count against neither its quotas nor its keys'. Over a quota the API\n"
            "      answers 429 naming it, with its reset time and Retry-After. API instances\n"
            "      reload a quota with the key (WAVECOM_API_AUTH_CACHE_SECONDS).\n");
}

/* Parses the quota options opts[0..5) (--monthly and one per channel). */
static int quota_from_opts(ctl_opt_t *opts, wc_quota_t *q)
{
    wc_quota_init(q);
    long v = 0;
    if (opts[0].present) {
        if (parse_count("--monthly", opts[0].value, 0, (long)WC_QUOTA_MAX, &v) != 0) {
            return -1;
        }
        q->monthly = v;
    }
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        if (!opts[1 + c].present) {
            continue;
        }
        if (parse_count(opts[1 + c].name, opts[1 + c].value, 0, (long)WC_QUOTA_MAX, &v) != 0) {
            return -1;
        }
        q->channel[c] = v;
    }
    return 0;
}

static json_object *quota_json(const wc_quota_t *q)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "monthly", q->monthly >= 0 ? json_object_new_int64(q->monthly) : NULL);
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        json_object_object_add(obj, wc_channel_name((wc_channel_t)c),
                               q->channel[c] >= 0 ? json_object_new_int64(q->channel[c]) : NULL);
    }
    json_object_object_add(obj, "criticalExempt", json_object_new_boolean(q->critical_exempt));
    return obj;
}

static int set_quota(ctl_t *ctl, int argc, char **argv, bool tenant)
{
    /* The channel options follow wc_channel_t's order. */
    ctl_opt_t opts[] = {{.name = "--monthly", .has_value = true},
                        {.name = "--email", .has_value = true},
                        {.name = "--sms", .has_value = true},
                        {.name = "--push", .has_value = true},
                        {.name = "--webhook", .has_value = true},
                        {.name = "--critical-exempt"},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, CTL_COUNT(opts), quota_usage, &pos, 1);
    if (parsed != 0) {
        return parsed;
    }
    wc_quota_t q;
    if (pos.n != 1) {
        ctl_error(tenant ? "tenant quota takes one tenant id"
                         : "apikey quota takes one key, or the hint apikey list shows");
        return CTL_EXIT_USAGE;
    }
    if (quota_from_opts(opts, &q) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[5].present && !tenant) {
        ctl_error("--critical-exempt is a tenant setting: use tenant quota");
        return CTL_EXIT_USAGE;
    }
    q.critical_exempt = opts[5].present;
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    wc_store_status_t status = tenant ? wc_store_set_tenant_quota(ctl->store, pos.word[0], &q)
                                      : wc_store_set_key_quota(ctl->store, pos.word[0], &q);
    switch (status) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no %s matches \"%.24s\"", tenant ? "tenant" : "API key", pos.word[0]);
        return CTL_EXIT_NOT_FOUND;
    case WC_STORE_CONFLICT:
        ctl_error("the hint \"%.12s\" matches more than one key; give the whole key", pos.word[0]);
        return CTL_EXIT_USAGE;
    default:
        ctl_error("the database failed while setting the quota");
        return CTL_EXIT_INFRA;
    }
    json_object *out = quota_json(&q);
    char target[25];
    snprintf(target, sizeof(target), tenant ? "%.24s" : "%.12s", pos.word[0]);
    const char *detail = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    const wc_audit_event_t event = {.actor = ctl->actor,
                                    .action = tenant ? "tenant.quota" : "apikey.quota",
                                    .target = target,
                                    .tenant_id = tenant ? target : NULL,
                                    .detail = detail};
    if (wc_store_audit_append(ctl->store, &event) != WC_STORE_OK) {
        ctl_error("warning: the quota is set, but not recorded in the audit trail");
    }
    if (opts[6].present || ctl->json) {
        json_object_object_add(out, tenant ? "tenant" : "hint", json_object_new_string(target));
        ctl_print_json(out);
    } else {
        printf("%s quota: %s\n", target, detail);
        json_object_put(out);
    }
    return 0;
}

int ctl_tenant_quota(ctl_t *ctl, int argc, char **argv) { return set_quota(ctl, argc, argv, true); }

int ctl_apikey_quota(ctl_t *ctl, int argc, char **argv) { return set_quota(ctl, argc, argv, false); }
