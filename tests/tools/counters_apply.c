/*
 * counters_apply: feeds counter deltas to wc_store_counters_apply, as the
 * write path's transition function does, so that the integration tests can
 * drive the counters (and leave them short, as a killed process would)
 * without a worker.
 *
 * Usage: counters_apply < DELTAS   (database from WAVECOM_MONGODB_URI and
 *        WAVECOM_MONGODB_DB). Each line: TENANT CREATED_MS AT_MS TYPE PRIORITY
 *        FROM TO (the enums as numbers, FROM -1 for a creation); a line
 *        "flush" applies what was read so far as one call. Exit 0, or 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "wc_store.h"
#include "wc_store_counters.h"

#define BATCH_MAX 1000

int main(void)
{
    const char *uri = getenv("WAVECOM_MONGODB_URI");
    const char *db = getenv("WAVECOM_MONGODB_DB");
    char err[256];
    int rc = 1;
    static char tenants[BATCH_MAX][25];
    static wc_counter_delta_t deltas[BATCH_MAX];
    size_t n = 0;
    char line[256];
    wc_store_t *store = NULL;
    mongoc_init();
    if (uri == NULL || db == NULL) {
        fprintf(stderr, "counters_apply: set WAVECOM_MONGODB_URI and WAVECOM_MONGODB_DB\n");
        goto out;
    }
    store = wc_store_open(uri, db, "counters_apply", err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "counters_apply: %s\n", err);
        goto out;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        bool flush = strncmp(line, "flush", 5) == 0;
        if (!flush) {
            long long created = 0, at = 0;
            int type = 0, priority = 0, from = 0, to = 0;
            if (sscanf(line, "%24s %lld %lld %d %d %d %d", tenants[n], &created, &at, &type,
                       &priority, &from, &to) != 7) {
                fprintf(stderr, "counters_apply: bad line: %s", line);
                goto out;
            }
            deltas[n] = (wc_counter_delta_t){.tenant_id = tenants[n],
                                             .created_at_ms = created,
                                             .at_ms = at,
                                             .type = type,
                                             .priority = priority,
                                             .from = from,
                                             .to = to};
            n++;
        }
        if ((flush || n == BATCH_MAX) && n > 0) {
            if (wc_store_counters_apply(store, deltas, n) != WC_STORE_OK) {
                fprintf(stderr, "counters_apply: wc_store_counters_apply failed\n");
                goto out;
            }
            n = 0;
        }
    }
    if (n > 0 && wc_store_counters_apply(store, deltas, n) != WC_STORE_OK) {
        fprintf(stderr, "counters_apply: wc_store_counters_apply failed\n");
        goto out;
    }
    rc = 0;
out:
    wc_store_close(store);
    mongoc_cleanup();
    return rc;
}
