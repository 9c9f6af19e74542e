/* api/tenant_versions.c against a reader of its own that counts its reads and
 * can change the version under it: a version is reused only within the
 * freshness window, a forget (what a flush of this process's counts does)
 * makes the next request read, a read that a forget overtook is not kept, a
 * failed read is not kept, and a full memo gives up the tenant read longest
 * ago. */
#include "unit_test.h"

#include <string.h>

#include "tenant_versions.h"

#define NOW 1700000000000LL
#define FRESH 1000

typedef struct {
    int64_t version;
    int reads;
    int fail_next;
    /* Set: the reader forgets this tenant while it reads, as a flush on
     * another thread would. */
    api_tenant_versions_t *forget_during;
} source_t;

static wc_store_status_t fake_read(void *arg, const char *tenant_id, int64_t *version,
                                   wc_store_counts_t *counts)
{
    source_t *s = arg;
    s->reads++;
    if (s->fail_next > 0) {
        s->fail_next--;
        return WC_STORE_ERROR;
    }
    if (s->forget_during != NULL) {
        api_tenant_versions_forget(s->forget_during, tenant_id);
    }
    *version = s->version;
    memset(counts, 0, sizeof(*counts));
    counts->counts[WC_STATUS_SENT][0][0] = s->version * 10;
    counts->total = s->version * 10;
    return WC_STORE_OK;
}

static api_tenant_versions_t *memo_over(source_t *s, size_t tenants)
{
    memset(s, 0, sizeof(*s));
    s->version = 7;
    api_tenant_versions_t *m = api_tenant_versions_new(tenants, fake_read, s);
    assert_non_null(m);
    return m;
}

static int64_t get(api_tenant_versions_t *m, const char *tenant, int64_t now, int64_t fresh)
{
    int64_t version = -1;
    wc_store_counts_t counts;
    assert_int_equal(api_tenant_versions_get(m, tenant, now, fresh, &version, &counts),
                     WC_STORE_OK);
    assert_int_equal(counts.total, version * 10); /* the counts ride with their version */
    return version;
}

static void a_version_is_reused_only_within_the_window(void **state)
{
    (void)state;
    source_t s;
    api_tenant_versions_t *m = memo_over(&s, 4);
    assert_int_equal(get(m, "t", NOW, FRESH), 7);
    s.version = 8; /* another process flushed */
    assert_int_equal(get(m, "t", NOW + FRESH - 1, FRESH), 7);
    assert_int_equal(s.reads, 1);
    assert_int_equal(get(m, "t", NOW + FRESH, FRESH), 8);
    assert_int_equal(s.reads, 2);
    /* Without a window every request reads. */
    assert_int_equal(get(m, "t", NOW + FRESH, 0), 8);
    assert_int_equal(get(m, "t", NOW + FRESH, 0), 8);
    assert_int_equal(s.reads, 4);
    /* A clock that stepped back reads again rather than trusting the entry. */
    assert_int_equal(get(m, "t", NOW, FRESH), 8);
    assert_int_equal(s.reads, 5);
    api_tenant_versions_free(m);
}

static void a_forget_makes_the_next_request_read(void **state)
{
    (void)state;
    source_t s;
    api_tenant_versions_t *m = memo_over(&s, 4);
    assert_int_equal(get(m, "a", NOW, FRESH), 7);
    assert_int_equal(get(m, "b", NOW, FRESH), 7);
    s.version = 9; /* this process wrote for "a" and flushed */
    api_tenant_versions_forget(m, "a");
    assert_int_equal(get(m, "a", NOW + 1, FRESH), 9);
    assert_int_equal(get(m, "b", NOW + 1, FRESH), 7); /* "b" is kept */
    assert_int_equal(s.reads, 3);
    api_tenant_versions_free(m);
}

static void a_read_overtaken_by_a_forget_is_not_kept(void **state)
{
    (void)state;
    source_t s;
    api_tenant_versions_t *m = memo_over(&s, 4);
    s.forget_during = m;
    assert_int_equal(get(m, "t", NOW, FRESH), 7);
    s.forget_during = NULL;
    s.version = 8;
    assert_int_equal(get(m, "t", NOW + 1, FRESH), 8);
    assert_int_equal(s.reads, 2);
    api_tenant_versions_free(m);
}

static void a_failed_read_is_returned_and_not_kept(void **state)
{
    (void)state;
    source_t s;
    api_tenant_versions_t *m = memo_over(&s, 4);
    int64_t version = 0;
    wc_store_counts_t counts;
    s.fail_next = 1;
    assert_int_equal(api_tenant_versions_get(m, "t", NOW, FRESH, &version, &counts),
                     WC_STORE_ERROR);
    assert_int_equal(get(m, "t", NOW, FRESH), 7);
    assert_int_equal(s.reads, 2);
    api_tenant_versions_free(m);
}

static void a_full_memo_gives_up_the_tenant_read_longest_ago(void **state)
{
    (void)state;
    source_t s;
    api_tenant_versions_t *m = memo_over(&s, 2);
    get(m, "a", NOW, FRESH);
    get(m, "b", NOW + 1, FRESH);
    get(m, "c", NOW + 2, FRESH); /* takes "a"'s place */
    assert_int_equal(s.reads, 3);
    get(m, "b", NOW + 3, FRESH);
    get(m, "c", NOW + 3, FRESH);
    assert_int_equal(s.reads, 3);
    get(m, "a", NOW + 4, FRESH);
    assert_int_equal(s.reads, 4);
    /* A tenant id too long to key on is read every time. */
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    get(m, long_id, NOW + 5, FRESH);
    get(m, long_id, NOW + 5, FRESH);
    assert_int_equal(s.reads, 6);
    api_tenant_versions_free(m);
}

UNIT_TEST_MAIN(cmocka_unit_test(a_version_is_reused_only_within_the_window),
               cmocka_unit_test(a_forget_makes_the_next_request_read),
               cmocka_unit_test(a_read_overtaken_by_a_forget_is_not_kept),
               cmocka_unit_test(a_failed_read_is_returned_and_not_kept),
               cmocka_unit_test(a_full_memo_gives_up_the_tenant_read_longest_ago))
