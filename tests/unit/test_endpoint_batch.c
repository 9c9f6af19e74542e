/* Per-endpoint batching in a worker child (worker/endpoint_batch.c) and the
 * settings a delivery carries (shared/model/wc_endpoint_batch.c): which open
 * batch a delivery joins, when a batch is full or due, and the request
 * document that goes to the webhook provider. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint_batch.h"
#include "wc_json.h"

#define ENDPOINT_A "65f0c0ffee0000000000000a"
#define ENDPOINT_B "65f0c0ffee0000000000000b"

static bson_t *delivery(const char *endpoint, int64_t rev, int n)
{
    bson_t *doc = BCON_NEW("type", "WEBHOOK", "recipient", "https://hooks.example/in",
                           "tenantId", "t1", "endpointId", endpoint, "endpointRev",
                           BCON_INT64(rev), "headers", "{", "X-Team", "ops", "}", "batch", "{",
                           "maxEvents", BCON_INT64(3), "maxWaitMs", BCON_INT64(200), "}",
                           "payload", "{", "n", BCON_INT32(n), "}", "message", "order.paid");
    return doc;
}

static void settings_are_read_within_their_bounds(void **state)
{
    (void)state;
    size_t events = 0;
    int wait = 0;
    bson_t *doc = delivery(ENDPOINT_A, 1, 0);
    assert_true(wc_endpoint_batch_settings(doc, &events, &wait));
    assert_int_equal(events, 3);
    assert_int_equal(wait, 200);
    bson_destroy(doc);

    static const struct {
        const char *json;
    } refused[] = {
        {"{\"endpointId\": \"" ENDPOINT_A "\"}"},
        {"{\"batch\": {\"maxEvents\": 5, \"maxWaitMs\": 100}}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": null}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": {\"maxEvents\": 1, \"maxWaitMs\": 100}}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": {\"maxEvents\": 101, \"maxWaitMs\": 100}}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": {\"maxEvents\": 5, \"maxWaitMs\": 9}}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": {\"maxEvents\": 5, \"maxWaitMs\": 30001}}"},
        {"{\"endpointId\": \"" ENDPOINT_A "\", \"batch\": {\"maxEvents\": \"5\", \"maxWaitMs\": 100}}"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        bson_error_t error;
        bson_t *d = bson_new_from_json((const uint8_t *)refused[i].json, -1, &error);
        assert_non_null(d);
        assert_false(wc_endpoint_batch_settings(d, &events, &wait));
        bson_destroy(d);
    }
}

static void members_group_by_endpoint_and_revision_until_full(void **state)
{
    (void)state;
    endpoint_batches_t set = {0};
    bson_t *docs[5] = {delivery(ENDPOINT_A, 1, 0), delivery(ENDPOINT_B, 1, 1),
                       delivery(ENDPOINT_A, 2, 2), delivery(ENDPOINT_A, 1, 3),
                       delivery(ENDPOINT_A, 1, 4)};
    int members[5];
    endpoint_batch_t *full = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(endpoint_batches_add(&set, &members[i], docs[i], 3, 200, 1000 + i, &full), 0);
        assert_null(full);
    }
    /* Three open: A rev 1 (two members), B, A rev 2 (an edit made in between). */
    assert_int_equal(set.n, 3);
    assert_int_equal(endpoint_batches_add(&set, &members[4], docs[4], 3, 200, 1004, &full), 1);
    assert_non_null(full);
    assert_int_equal(full->n, 3);
    assert_ptr_equal(full->members[0], &members[0]);
    assert_ptr_equal(full->members[1], &members[3]);
    assert_ptr_equal(full->members[2], &members[4]);
    assert_int_equal(set.n, 2);
    endpoint_batch_free(full);

    /* Due 200 ms after each was opened, in the loop's clock. */
    assert_int_equal(endpoint_batches_next_due_ms(&set, 1100, 1000), 101);
    assert_null(endpoint_batches_take_due(&set, 1200, false));
    endpoint_batch_t *due = endpoint_batches_take_due(&set, 1201, false);
    assert_non_null(due);
    assert_string_equal(due->endpoint_id, ENDPOINT_B);
    endpoint_batch_free(due);
    /* A drain takes what is left whenever it falls due. */
    due = endpoint_batches_take_due(&set, 0, true);
    assert_non_null(due);
    assert_int_equal(due->rev, 2);
    endpoint_batch_free(due);
    assert_int_equal(set.n, 0);
    assert_int_equal(endpoint_batches_next_due_ms(&set, 0, 77), 77);
    for (int i = 0; i < 5; i++) {
        bson_destroy(docs[i]);
    }
}

static void no_room_sends_alone(void **state)
{
    (void)state;
    endpoint_batches_t set = {0};
    bson_t *doc = delivery(ENDPOINT_A, 1, 0);
    char ids[ENDPOINT_BATCH_OPEN_MAX + 1][25];
    bson_t *docs[ENDPOINT_BATCH_OPEN_MAX + 1];
    endpoint_batch_t *full = NULL;
    for (int i = 0; i <= ENDPOINT_BATCH_OPEN_MAX; i++) {
        snprintf(ids[i], sizeof(ids[i]), "65f0c0ffee00000000%06d", i);
        docs[i] = BCON_NEW("endpointId", ids[i]);
        int rc = endpoint_batches_add(&set, doc, docs[i], 3, 200, 0, &full);
        assert_int_equal(rc, i < ENDPOINT_BATCH_OPEN_MAX ? 0 : -1);
    }
    endpoint_batch_t *b;
    while ((b = endpoint_batches_take_due(&set, 0, true)) != NULL) {
        endpoint_batch_free(b);
    }
    for (int i = 0; i <= ENDPOINT_BATCH_OPEN_MAX; i++) {
        bson_destroy(docs[i]);
    }
    bson_t *anonymous = BCON_NEW("recipient", "https://x.example/");
    assert_int_equal(endpoint_batches_add(&set, doc, anonymous, 3, 200, 0, &full), -1);
    bson_destroy(anonymous);
    bson_destroy(doc);
}

static void the_request_is_an_array_of_id_and_body(void **state)
{
    (void)state;
    endpoint_batches_t set = {0};
    bson_t *docs[2] = {delivery(ENDPOINT_A, 4, 7), delivery(ENDPOINT_A, 4, 8)};
    int members[2];
    endpoint_batch_t *full = NULL;
    assert_int_equal(endpoint_batches_add(&set, &members[0], docs[0], 2, 200, 0, &full), 0);
    assert_int_equal(endpoint_batches_add(&set, &members[1], docs[1], 2, 200, 0, &full), 1);
    const char *ids[2] = {"65f0c0ffee00000000000001", "65f0c0ffee00000000000002"};
    bson_t *request = endpoint_batch_document(full, ids);
    assert_non_null(request);
    char *json = bson_as_relaxed_extended_json(request, NULL);
    assert_non_null(strstr(json, "\"payload\" : [ { \"id\" : \"65f0c0ffee00000000000001\", "
                                 "\"data\" : { \"n\" : 7 } }, { \"id\" : "
                                 "\"65f0c0ffee00000000000002\", \"data\" : { \"n\" : 8 } } ]"));
    assert_non_null(strstr(json, "\"endpointId\" : \"" ENDPOINT_A "\""));
    assert_non_null(strstr(json, "\"headers\" : { \"X-Team\" : \"ops\" }"));
    assert_non_null(strstr(json, "\"recipient\" : \"https://hooks.example/in\""));
    /* Nothing of a member's own beyond its body: no message, no batch settings. */
    assert_null(strstr(json, "order.paid"));
    assert_null(strstr(json, "maxEvents"));
    bson_free(json);
    bson_destroy(request);

    char a[ENDPOINT_BATCH_ID_LEN], b[ENDPOINT_BATCH_ID_LEN], c[ENDPOINT_BATCH_ID_LEN];
    endpoint_batch_id(ids, 2, a);
    endpoint_batch_id(ids, 2, b);
    const char *reversed[2] = {ids[1], ids[0]};
    endpoint_batch_id(reversed, 2, c);
    assert_int_equal(strlen(a), ENDPOINT_BATCH_ID_LEN - 1);
    assert_memory_equal(a, "batch_", 6);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    endpoint_batch_free(full);
    bson_destroy(docs[0]);
    bson_destroy(docs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_are_read_within_their_bounds),
        cmocka_unit_test(members_group_by_endpoint_and_revision_until_full),
        cmocka_unit_test(no_room_sends_alone),
        cmocka_unit_test(the_request_is_an_array_of_id_and_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
