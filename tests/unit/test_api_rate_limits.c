/*
 * The API's rate limits (api/rate_limits.c) on a clock the test moves: the
 * burst of a bucket, its refill, the debt a large batch leaves, the pair of
 * tenant and key buckets taken both or neither, the global ceiling that never
 * sheds CRITICAL work, the in-flight quota, and the headers of a refusal.
 *
 * The test includes rate_limits.c itself, to replace the limiter's clock and
 * to set a tenant's in-flight count without a database.
 */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "../../api/rate_limits.c"

static int64_t fake_now;

static int64_t fake_clock(void) { return fake_now; }

static wc_config_t cfg;

/* A limiter on the fake clock, every limit off until a test sets it. */
static api_limits_t *limiter(void)
{
    memset(&cfg, 0, sizeof(cfg));
    fake_now = 1000000;
    api_limits_t *l = api_limits_new(&cfg, NULL);
    assert_non_null(l);
    l->now_ms = fake_clock;
    return l;
}

static wc_principal_t principal(const char *tenant, const char *key)
{
    wc_principal_t p = {.limits = {-1, -1, -1}};
    snprintf(p.tenant_id, sizeof(p.tenant_id), "%s", tenant);
    snprintf(p.key_id, sizeof(p.key_id), "%s", key);
    snprintf(p.role, sizeof(p.role), "%s", "sender");
    return p;
}

static const char *header(const api_response_t *res, const char *name)
{
    for (int i = 0; i < res->header_count; i++) {
        if (strcmp(res->headers[i].name, name) == 0) {
            return res->headers[i].value;
        }
    }
    return NULL;
}

/* Takes one request; on a refusal checks its status and releases it. */
static bool request(api_limits_t *l, const wc_principal_t *p)
{
    api_response_t res = {0};
    bool ok = api_limits_take_request(l, p, &res);
    if (!ok) {
        assert_int_equal(res.status, 429);
        json_object_put(res.body);
    }
    return ok;
}

static int requests_admitted(api_limits_t *l, const wc_principal_t *p, int tries)
{
    int admitted = 0;
    for (int i = 0; i < tries; i++) {
        admitted += request(l, p) ? 1 : 0;
    }
    return admitted;
}

/* Offers `total` notifications, `critical` of them CRITICAL: 0 when they are
 * admitted, else the status of the refusal (its body released). */
static unsigned take(api_limits_t *l, const wc_principal_t *p, size_t total, size_t critical)
{
    api_response_t res = {0};
    if (api_limits_take_notifications(l, p, total, critical, NULL, &res)) {
        return 0;
    }
    json_object_put(res.body);
    return res.status;
}

static void no_limiter_admits_everything(void **state)
{
    (void)state;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "0000000000000001");
    api_response_t res = {0};
    assert_true(api_limits_take_request(NULL, &p, &res));
    assert_true(api_limits_take_notifications(NULL, &p, 1000, 0, NULL, &res));
    assert_int_equal(res.status, 0);
}

static void a_bucket_holds_one_seconds_worth(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 5;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "0000000000000001");
    /* A full bucket: the burst, then nothing. */
    assert_int_equal(requests_admitted(l, &p, 8), 5);
    /* However long it rests, it holds no more than the burst. */
    fake_now += 60 * 1000;
    assert_int_equal(requests_admitted(l, &p, 8), 5);
    api_limits_free(l);
}

static void a_bucket_refills_at_its_rate(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 5;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "0000000000000001");
    assert_int_equal(requests_admitted(l, &p, 5), 5);
    /* 5/s: one token every 200 ms, none before. */
    fake_now += 199;
    assert_false(request(l, &p));
    fake_now += 1;
    assert_true(request(l, &p));
    assert_false(request(l, &p));
    fake_now += 600;
    assert_int_equal(requests_admitted(l, &p, 5), 3);
    api_limits_free(l);
}

static void a_refusal_says_when_to_come_back(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 4;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "0000000000000001");
    assert_int_equal(requests_admitted(l, &p, 4), 4);
    api_response_t res = {0};
    assert_false(api_limits_take_request(l, &p, &res));
    assert_int_equal(res.status, 429);
    assert_string_equal(header(&res, "Retry-After"), "1");
    assert_string_equal(header(&res, "RateLimit-Limit"), "4");
    assert_string_equal(header(&res, "RateLimit-Remaining"), "0");
    assert_string_equal(header(&res, "RateLimit-Reset"), "1");
    const char *message = json_object_get_string(json_object_object_get(res.body, "message"));
    assert_non_null(strstr(message, "tenant's rate limit of 4 requests per second"));
    json_object_put(res.body);
    api_limits_free(l);
}

/* A request larger than the burst passes on a full bucket and leaves it in
 * debt, which is paid back at the rate before anything else passes. */
static void a_large_batch_leaves_a_debt(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_nps = 10;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "0000000000000001");
    api_response_t res = {0};
    assert_int_equal(take(l, &p, 25, 0), 0);
    /* 10 - 25 = -15 tokens: one more notification needs 16 tokens, 1.6 s. */
    assert_false(api_limits_take_notifications(l, &p, 1, 0, NULL, &res));
    assert_int_equal(res.status, 429);
    assert_string_equal(header(&res, "Retry-After"), "2");
    assert_string_equal(header(&res, "RateLimit-Remaining"), "0");
    json_object_put(res.body);
    fake_now += 1599;
    assert_int_equal(take(l, &p, 1, 0), 429);
    fake_now += 1;
    assert_int_equal(take(l, &p, 1, 0), 0);
    api_limits_free(l);
}

/* The tenant's and the key's buckets are taken both or neither: a request
 * the key refuses costs the tenant nothing. */
static void tenant_and_key_are_taken_together(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 4;
    cfg.rate_key_rps = 3;
    wc_principal_t a = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000a");
    wc_principal_t b = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000b");
    assert_int_equal(requests_admitted(l, &a, 3), 3);
    api_response_t res = {0};
    assert_false(api_limits_take_request(l, &a, &res));
    const char *message = json_object_get_string(json_object_object_get(res.body, "message"));
    assert_non_null(strstr(message, "API key's rate limit of 3 requests"));
    json_object_put(res.body);
    /* The tenant still has its fourth token for the other key, and no fifth. */
    assert_true(request(l, &b));
    res = (api_response_t){0};
    assert_false(api_limits_take_request(l, &b, &res));
    message = json_object_get_string(json_object_object_get(res.body, "message"));
    assert_non_null(strstr(message, "tenant's rate limit of 4 requests"));
    json_object_put(res.body);
    api_limits_free(l);
}

static void tenants_have_buckets_of_their_own(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 2;
    wc_principal_t a = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000a");
    wc_principal_t b = principal("bbbbbbbbbbbbbbbbbbbbbbbb", "000000000000000b");
    assert_int_equal(requests_admitted(l, &a, 5), 2);
    assert_int_equal(requests_admitted(l, &b, 5), 2);
    api_limits_free(l);
}

/* A tenant's own limit replaces the default; 0 switches it off; -1 keeps
 * the default. */
static void a_tenants_own_limit_wins(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_rps = 10;
    wc_principal_t own = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000a");
    own.limits.requests_per_second = 3;
    wc_principal_t off = principal("bbbbbbbbbbbbbbbbbbbbbbbb", "000000000000000b");
    off.limits.requests_per_second = 0;
    wc_principal_t fallback = principal("cccccccccccccccccccccccc", "000000000000000c");
    assert_int_equal(requests_admitted(l, &own, 20), 3);
    assert_int_equal(requests_admitted(l, &off, 50), 50);
    assert_int_equal(requests_admitted(l, &fallback, 20), 10);
    api_limits_free(l);
}

/* The global ceiling sheds non-CRITICAL work with 503 but takes CRITICAL
 * work, which still counts against it. */
static void the_ceiling_never_sheds_critical_work(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_global_nps = 10;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000a");
    api_response_t res = {0};
    assert_int_equal(take(l, &p, 10, 0), 0);
    assert_false(api_limits_take_notifications(l, &p, 1, 0, NULL, &res));
    assert_int_equal(res.status, 503);
    assert_string_equal(header(&res, "Retry-After"), "1");
    assert_string_equal(header(&res, "RateLimit-Limit"), "10");
    json_object_put(res.body);
    /* Only CRITICAL: taken, and the ceiling goes into debt (-3). */
    assert_int_equal(take(l, &p, 3, 3), 0);
    /* A batch of 5 with 2 CRITICAL: the 2 alone are admitted. */
    bool critical_only = false;
    assert_true(api_limits_take_notifications(l, &p, 5, 2, &critical_only, &res));
    assert_true(critical_only);
    /* -5 tokens: one standard notification waits 0.6 s. */
    fake_now += 599;
    assert_int_equal(take(l, &p, 1, 0), 503);
    fake_now += 1;
    assert_int_equal(take(l, &p, 1, 0), 0);
    api_limits_free(l);
}

/* Sets a tenant's in-flight count as if just read from the database. */
static void set_in_flight(api_limits_t *l, const char *tenant, int64_t count)
{
    char name[48];
    snprintf(name, sizeof(name), "f:%s", tenant);
    entry_t *e = entry_for(l, name, fake_now);
    e->counted = count;
    e->admitted = 0;
    e->counted_ms = fake_now;
}

static void the_in_flight_quota_counts_admissions(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.tenant_max_in_flight = 10;
    wc_principal_t p = principal("aaaaaaaaaaaaaaaaaaaaaaaa", "000000000000000a");
    set_in_flight(l, p.tenant_id, 7);
    api_response_t res = {0};
    assert_int_equal(take(l, &p, 2, 0), 0);
    /* 7 counted + 2 admitted: room for one, not two. */
    assert_false(api_limits_take_notifications(l, &p, 2, 2, NULL, &res));
    assert_int_equal(res.status, 429);
    assert_string_equal(header(&res, "Retry-After"), "1");
    const char *message = json_object_get_string(json_object_object_get(res.body, "message"));
    assert_non_null(strstr(message, "9 notifications in flight; its quota is 10"));
    json_object_put(res.body);
    assert_int_equal(take(l, &p, 1, 0), 0);
    /* A tenant's own quota replaces the default. */
    wc_principal_t own = principal("bbbbbbbbbbbbbbbbbbbbbbbb", "000000000000000b");
    own.limits.max_in_flight = 100;
    set_in_flight(l, own.tenant_id, 95);
    assert_int_equal(take(l, &own, 5, 0), 0);
    assert_int_equal(take(l, &own, 1, 0), 429);
    api_limits_free(l);
}

/* The wait a refusal announces: whole seconds, at least one. */
static void wait_seconds_rounds_up(void **state)
{
    (void)state;
    static const struct {
        double rate, tokens, n;
        long want;
    } cases[] = {
        {10, 0, 1, 1},    /* 0.1 s */
        {10, -15, 1, 2},  /* 1.6 s */
        {10, -20, 1, 3},  /* 2.1 s */
        {2, 0, 50, 1},    /* n beyond the burst needs the burst: 2 tokens */
        {1, -9, 1, 10},   /* 10 s */
        {100, 99.5, 1, 1}, /* 5 ms */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        entry_t b = {.rate = cases[i].rate, .tokens = cases[i].tokens};
        long got = wait_seconds(&b, cases[i].n);
        if (got != cases[i].want) {
            fail_msg("case %zu: %ld s, want %ld", i, got, cases[i].want);
        }
    }
}

/* A bounded table: the least recently used bucket of a probe window makes
 * room for a new one, and when its owner comes back it starts full. */
static void an_evicted_bucket_starts_full(void **state)
{
    (void)state;
    api_limits_t *l = limiter();
    cfg.rate_tenant_nps = 1;
    wc_principal_t first = principal("000000000000000000000000", "0000000000000000");
    /* 1 - 100: a debt that takes 100 s to pay back. */
    assert_int_equal(take(l, &first, 100, 0), 0);
    assert_int_equal(take(l, &first, 1, 0), 429);
    /* Twice as many other tenants as the table has slots, 1 ms apart. */
    char tenant[25];
    for (int i = 1; i <= TABLE_SIZE * 2; i++) {
        fake_now++;
        snprintf(tenant, sizeof(tenant), "%024d", i);
        wc_principal_t other = principal(tenant, "0000000000000000");
        assert_int_equal(take(l, &other, 1, 0), 0);
    }
    /* Some 8 s later the debt would still be 92 tokens: only a bucket that
     * was pushed out and made anew admits it. */
    assert_int_equal(take(l, &first, 1, 0), 0);
    api_limits_free(l);
}

UNIT_TEST_MAIN(cmocka_unit_test(no_limiter_admits_everything),
               cmocka_unit_test(a_bucket_holds_one_seconds_worth),
               cmocka_unit_test(a_bucket_refills_at_its_rate),
               cmocka_unit_test(a_refusal_says_when_to_come_back),
               cmocka_unit_test(a_large_batch_leaves_a_debt),
               cmocka_unit_test(tenant_and_key_are_taken_together),
               cmocka_unit_test(tenants_have_buckets_of_their_own),
               cmocka_unit_test(a_tenants_own_limit_wins),
               cmocka_unit_test(the_ceiling_never_sheds_critical_work),
               cmocka_unit_test(the_in_flight_quota_counts_admissions),
               cmocka_unit_test(wait_seconds_rounds_up),
               cmocka_unit_test(an_evicted_bucket_starts_full))
