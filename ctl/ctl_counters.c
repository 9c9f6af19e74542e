/*
 * wavecomctl counters reconcile [--tenant ID] [--json]: recounts the
 * notifications and repairs the counters the API's reads use
 * (wc_store_counters.h). Run it from one place at a time, on a schedule (e.g.
 * an hourly cron job or Kubernetes CronJob) and after restoring a database:
 * two reconciliations at once would both apply the same correction.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "wc_store_counters.h"

static void counters_usage(FILE *out)
{
    fprintf(out, "Usage: wavecomctl counters reconcile [--tenant ID] [--json]\n\n"
                 "Recounts the notifications of one tenant (or every tenant) and corrects the\n"
                 "counter documents that disagree. Counter documents written to while it runs\n"
                 "are left for the next run.\n");
}

static int counters_reconcile(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true}, {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, CTL_COUNT(opts), counters_usage, &pos, 0);
    if (parsed != 0) {
        return parsed;
    }
    const char *tenant = ctl_opt(opts, CTL_COUNT(opts), "--tenant")->value;
    if (tenant != NULL && (strlen(tenant) != 24 || strspn(tenant, "0123456789abcdef") != 24)) {
        ctl_error("--tenant must be a tenant id (24 hex digits)");
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    wc_counters_reconcile_report_t r;
    if (wc_store_counters_reconcile(ctl->store, tenant, &r) != WC_STORE_OK) {
        ctl_error("the database failed while reconciling the counters");
        return CTL_EXIT_INFRA;
    }
    if (ctl_opt(opts, CTL_COUNT(opts), "--json")->present) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "notifications", json_object_new_int64(r.notifications));
        json_object_object_add(o, "backfilled", json_object_new_int64(r.backfilled));
        json_object_object_add(o, "bucketsChecked", json_object_new_int64(r.buckets_checked));
        json_object_object_add(o, "bucketsFixed", json_object_new_int64(r.buckets_fixed));
        json_object_object_add(o, "bucketsBusy", json_object_new_int64(r.buckets_busy));
        json_object_object_add(o, "cellsFixed", json_object_new_int64(r.cells_fixed));
        json_object_object_add(o, "elapsedMs", json_object_new_int64(r.elapsed_ms));
        ctl_print_json(o);
        return 0;
    }
    printf("recounted %lld notifications in %lld ms; %lld counter documents checked, %lld "
           "corrected (%lld cells), %lld busy (left for the next run), %lld documents given "
           "their listBucket\n",
           (long long)r.notifications, (long long)r.elapsed_ms, (long long)r.buckets_checked,
           (long long)r.buckets_fixed, (long long)r.cells_fixed, (long long)r.buckets_busy,
           (long long)r.backfilled);
    return 0;
}

int ctl_counters_main(ctl_t *ctl, int argc, char **argv)
{
    static const ctl_subcommand_t subcommands[] = {{"reconcile", counters_reconcile}};
    return ctl_dispatch(ctl, argc, argv, "counters", subcommands,
                        CTL_COUNT(subcommands), counters_usage);
}
