#include "unit_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_broker_nodes.h"

/* The list is large (16 URLs of 512 bytes): one per test, on the heap. */
static int setup(void **state)
{
    *state = calloc(1, sizeof(wc_broker_nodes_t));
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void one_url_is_a_list_of_one(void **state)
{
    wc_broker_nodes_t *nodes = *state;
    char err[200] = "";
    assert_int_equal(wc_broker_nodes_parse("amqp://guest:guest@127.0.0.1:5672/", nodes, err,
                                           sizeof(err)), 0);
    assert_int_equal(nodes->count, 1);
    assert_string_equal(nodes->urls[0], "amqp://guest:guest@127.0.0.1:5672/");
}

static void a_list_keeps_its_order_and_drops_blanks(void **state)
{
    wc_broker_nodes_t *nodes = *state;
    char err[200] = "";
    assert_int_equal(wc_broker_nodes_parse("amqp://a:b@127.0.0.1:5682/v, amqp://a:b@127.0.0.1:5683/v"
                                           " ,\tamqps://a:b@127.0.0.1:5684/v",
                                           nodes, err, sizeof(err)), 0);
    assert_int_equal(nodes->count, 3);
    assert_string_equal(nodes->urls[0], "amqp://a:b@127.0.0.1:5682/v");
    assert_string_equal(nodes->urls[1], "amqp://a:b@127.0.0.1:5683/v");
    assert_string_equal(nodes->urls[2], "amqps://a:b@127.0.0.1:5684/v");
}

/* Rejected with a reason naming the URL's position, and never the URL (it may hold a password). */
static void expect_rejected(wc_broker_nodes_t *nodes, const char *list, const char *reason)
{
    char err[200] = "";
    assert_int_equal(wc_broker_nodes_parse(list, nodes, err, sizeof(err)), -1);
    assert_int_equal(nodes->count, 0);
    if (strstr(err, reason) == NULL) {
        fail_msg("\"%s\": error \"%s\" does not say \"%s\"", list, err, reason);
    }
    assert_null(strstr(err, "secret"));
}

static void bad_lists_are_rejected_with_the_position(void **state)
{
    wc_broker_nodes_t *nodes = *state;
    expect_rejected(nodes, "", "URL 1 of the list is empty");
    expect_rejected(nodes, "amqp://u:secret@h:1/,", "URL 2 of the list is empty");
    expect_rejected(nodes, "amqp://u:secret@h:1/,,amqp://h:2/", "URL 2 of the list is empty");
    expect_rejected(nodes, "amqp://u:secret@h:1/, http://u:secret@h:2/",
                    "URL 2 of the list must start with amqp://");
    expect_rejected(nodes, "amqp://u:secret@h:notaport/", "URL 1 of the list is not a valid");
}

static void too_many_or_too_long_urls_are_rejected(void **state)
{
    wc_broker_nodes_t *nodes = *state;
    char list[WC_BROKER_NODES_MAX * 32 + 64] = "";
    size_t used = 0;
    for (int i = 0; i <= WC_BROKER_NODES_MAX; i++) {
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%samqp://h:%d/",
                                 i == 0 ? "" : ",", 5000 + i);
    }
    expect_rejected(nodes, list, "more than 16 URLs");

    char *long_url = malloc(WC_BROKER_NODE_URL_MAX + 16);
    assert_non_null(long_url);
    int prefix = snprintf(long_url, WC_BROKER_NODE_URL_MAX + 16, "amqp://h:1/");
    memset(long_url + prefix, 'v', WC_BROKER_NODE_URL_MAX);
    long_url[WC_BROKER_NODE_URL_MAX + 10] = '\0';
    expect_rejected(nodes, long_url, "URL 1 of the list is longer than");
    free(long_url);
}

static void processes_start_at_nodes_spread_by_their_id(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_nodes_first(0, 1234), 0);
    assert_int_equal(wc_broker_nodes_first(1, 1234), 0);
    /* Consecutive pids (a worker's children) land on every node in turn. */
    size_t seen[3] = {0, 0, 0};
    for (unsigned long pid = 4000; pid < 4030; pid++) {
        size_t first = wc_broker_nodes_first(3, pid);
        assert_true(first < 3);
        seen[first]++;
    }
    assert_int_equal(seen[0], 10);
    assert_int_equal(seen[1], 10);
    assert_int_equal(seen[2], 10);
}

static void a_lost_node_leads_to_the_next_then_round(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_nodes_next(3, 0), 1);
    assert_int_equal(wc_broker_nodes_next(3, 1), 2);
    assert_int_equal(wc_broker_nodes_next(3, 2), 0);
    assert_int_equal(wc_broker_nodes_next(1, 0), 0);
    assert_int_equal(wc_broker_nodes_next(0, 0), 0);
}

UNIT_TEST_MAIN(cmocka_unit_test_setup_teardown(one_url_is_a_list_of_one, setup, teardown),
               cmocka_unit_test_setup_teardown(a_list_keeps_its_order_and_drops_blanks, setup, teardown),
               cmocka_unit_test_setup_teardown(bad_lists_are_rejected_with_the_position, setup, teardown),
               cmocka_unit_test_setup_teardown(too_many_or_too_long_urls_are_rejected, setup, teardown),
               cmocka_unit_test(processes_start_at_nodes_spread_by_their_id),
               cmocka_unit_test(a_lost_node_leads_to_the_next_then_round))
