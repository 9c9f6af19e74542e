/* Every cell of the lifecycle table (shared/model/wc_lifecycle.c), against the
 * moves docs/ARCHITECTURE.md §4 lists. */
#include "unit_test.h"

#include "wc_lifecycle.h"

#define P WC_STATUS_PENDING
#define Q WC_STATUS_QUEUED
#define R WC_STATUS_PROCESSING
#define S WC_STATUS_SENT
#define F WC_STATUS_FAILED
#define T WC_STATUS_RETRYING
#define D WC_STATUS_SCHEDULED
#define C WC_STATUS_CANCELLED
#define X WC_STATUS_SUPPRESSED

static const struct {
    wc_status_t from, to;
} allowed[] = {
    {D, P}, {P, Q}, {P, R}, {Q, R}, {T, R}, {R, R}, {R, S}, {R, T},
    {R, F}, {F, P}, {D, C}, {P, C}, {Q, C}, {T, C}, {R, X},
};

static bool listed(wc_status_t from, wc_status_t to)
{
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (allowed[i].from == from && allowed[i].to == to) {
            return true;
        }
    }
    return false;
}

static void every_cell_is_as_documented(void **state)
{
    (void)state;
    for (int from = 0; from < WC_STATUS_COUNT; from++) {
        for (int to = 0; to < WC_STATUS_COUNT; to++) {
            bool expected = listed((wc_status_t)from, (wc_status_t)to);
            if (wc_status_may_move((wc_status_t)from, (wc_status_t)to) != expected) {
                fail_msg("%s -> %s should be %s", wc_status_name((wc_status_t)from),
                         wc_status_name((wc_status_t)to), expected ? "allowed" : "refused");
            }
        }
    }
}

static void sent_cancelled_and_suppressed_are_final(void **state)
{
    (void)state;
    for (int to = 0; to < WC_STATUS_COUNT; to++) {
        assert_false(wc_status_may_move(S, (wc_status_t)to));
        assert_false(wc_status_may_move(C, (wc_status_t)to));
        assert_false(wc_status_may_move(X, (wc_status_t)to));
    }
}

static void values_outside_the_enum_never_move(void **state)
{
    (void)state;
    assert_false(wc_status_may_move((wc_status_t)-1, Q));
    assert_false(wc_status_may_move(P, (wc_status_t)WC_STATUS_COUNT));
    assert_false(wc_status_may_move((wc_status_t)WC_STATUS_COUNT, P));
}

static void sources_are_the_column_in_enum_order(void **state)
{
    (void)state;
    wc_status_t out[WC_STATUS_COUNT];
    assert_int_equal(wc_status_sources(C, out), 4);
    assert_int_equal(out[0], P);
    assert_int_equal(out[1], Q);
    assert_int_equal(out[2], T);
    assert_int_equal(out[3], D);
    assert_int_equal(wc_status_sources(R, out), 4);
    assert_int_equal(out[0], P);
    assert_int_equal(out[1], Q);
    assert_int_equal(out[2], R);
    assert_int_equal(out[3], T);
    assert_int_equal(wc_status_sources(D, out), 0);
    assert_int_equal(wc_status_sources(X, out), 1);
    assert_int_equal(out[0], R);
}

static void the_filter_names_the_sources(void **state)
{
    (void)state;
    bson_t *filter = bson_new();
    assert_true(wc_status_append_sources(filter, "status", C));
    char *json = bson_as_relaxed_extended_json(filter, NULL);
    assert_string_equal(json,
                        "{ \"status\" : { \"$in\" : [ \"PENDING\", \"QUEUED\", \"RETRYING\", "
                        "\"SCHEDULED\" ] } }");
    bson_free(json);
    bson_destroy(filter);
}

UNIT_TEST_MAIN(cmocka_unit_test(every_cell_is_as_documented),
               cmocka_unit_test(sent_cancelled_and_suppressed_are_final),
               cmocka_unit_test(values_outside_the_enum_never_move),
               cmocka_unit_test(sources_are_the_column_in_enum_order),
               cmocka_unit_test(the_filter_names_the_sources))
