/*
 * wavecomctl queues: for every WaveCom queue, messages ready and consumers by
 * AMQP passive declares (which need nothing but the broker), and, when the
 * RabbitMQ management API answers, unacked messages and publish/deliver
 * rates from it. The management API is found on port 15672 of the AMQP host
 * (the first node of a list) with the AMQP credentials unless --management
 * names it; it is optional.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wc_broker_nodes.h"
#include "wc_topology.h"

#define QUEUES_MAX 16
#define MGMT_BODY_MAX (1 << 20)
#define MGMT_TIMEOUT_MS 3000

typedef struct {
    char *data;
    size_t len;
} body_t;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    body_t *body = arg;
    size_t n = size * nmemb;
    if (body->len + n > MGMT_BODY_MAX) {
        return 0; /* aborts the transfer: no queue listing is this large */
    }
    char *grown = realloc(body->data, body->len + n + 1);
    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + body->len, ptr, n);
    body->data = grown;
    body->len += n;
    body->data[body->len] = '\0';
    return n;
}

/* GETs /api/queues/<vhost> from the management API. Returns the parsed
 * array (new reference) or NULL when it does not answer. */
static json_object *management_queues(const char *amqp_url, const char *base)
{
    /* amqp_parse_url writes into the first node's URL; info points into it. */
    wc_broker_nodes_t *nodes = malloc(sizeof(*nodes));
    char why[200];
    struct amqp_connection_info info;
    if (nodes == NULL || wc_broker_nodes_parse(amqp_url, nodes, why, sizeof(why)) != 0 ||
        amqp_parse_url(nodes->urls[0], &info) != AMQP_STATUS_OK) {
        free(nodes);
        return NULL;
    }
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        free(nodes);
        return NULL;
    }
    char *vhost = curl_easy_escape(curl, info.vhost, 0);
    char url[1024];
    if (base != NULL) {
        snprintf(url, sizeof(url), "%s/api/queues/%s", base, vhost != NULL ? vhost : "%2F");
    } else {
        snprintf(url, sizeof(url), "http://%s:15672/api/queues/%s", info.host,
                 vhost != NULL ? vhost : "%2F");
    }
    curl_free(vhost);
    body_t body = {NULL, 0};
    long status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_USERNAME, info.user);
    curl_easy_setopt(curl, CURLOPT_PASSWORD, info.password);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)MGMT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(curl);
    free(nodes);
    json_object *queues = NULL;
    if (rc == CURLE_OK && status == 200 && body.data != NULL) {
        queues = json_tokener_parse(body.data);
        if (queues != NULL && !json_object_is_type(queues, json_type_array)) {
            json_object_put(queues);
            queues = NULL;
        }
    }
    free(body.data);
    return queues;
}

/* A number at a path of objects, e.g. message_stats.publish_details.rate. */
static json_object *json_path_number(json_object *obj, const char *const *path)
{
    for (; *path != NULL && obj != NULL; path++) {
        if (!json_object_object_get_ex(obj, *path, &obj)) {
            obj = NULL;
        }
    }
    if (obj == NULL || !(json_object_is_type(obj, json_type_int) ||
                         json_object_is_type(obj, json_type_double))) {
        return NULL;
    }
    return json_object_get(obj);
}

/* Adds unacked and rates from the management listing to `row`. */
static void add_management(json_object *row, json_object *mgmt, const char *queue)
{
    static const char *const unacked[] = {"messages_unacknowledged", NULL};
    static const char *const publish[] = {"message_stats", "publish_details", "rate", NULL};
    static const char *const deliver[] = {"message_stats", "deliver_get_details", "rate", NULL};
    for (size_t i = 0; mgmt != NULL && i < json_object_array_length(mgmt); i++) {
        json_object *q = json_object_array_get_idx(mgmt, i);
        json_object *name = NULL;
        if (!json_object_object_get_ex(q, "name", &name) ||
            strcmp(json_object_get_string(name), queue) != 0) {
            continue;
        }
        json_object_object_add(row, "unacked", json_path_number(q, unacked));
        json_object_object_add(row, "publishRate", json_path_number(q, publish));
        json_object_object_add(row, "deliverRate", json_path_number(q, deliver));
        return;
    }
}

static void print_text(json_object *rows)
{
    static const ctl_column_t columns[] = {
        {"QUEUE", -20, 0, "queue", NULL},         {"READY", 10, 0, "ready", NULL},
        {"UNACKED", 10, 0, "unacked", NULL},      {"CONSUMERS", 10, 0, "consumers", NULL},
        {"PUBLISH/s", 12, 0, "publishRate", NULL}, {"DELIVER/s", 12, 0, "deliverRate", NULL}};
    ctl_print_table(rows, columns, CTL_COUNT(columns), " ");
}

static size_t queue_names(const char **names)
{
    size_t n = 0;
    names[n++] = WC_QUEUE_HIGH;
    names[n++] = WC_QUEUE_STANDARD;
    names[n++] = WC_QUEUE_DLQ;
    for (size_t i = 0; i < wc_delay_tier_count && n < QUEUES_MAX; i++) {
        names[n++] = wc_delay_tiers[i].queue;
    }
    return n;
}

int ctl_queues_main(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--help"},
                        {.name = "--json"},
                        {.name = "--management", .has_value = true},
                        {.name = "--no-management"}};
    const char *pos[1];
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 2, opts, 4, pos, 0, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[0].present) {
        printf("Usage: wavecomctl queues [--json] [--management URL | --no-management]\n"
               "    Messages ready and consumers of every WaveCom queue (AMQP passive\n"
               "    declares); unacked messages and publish/deliver rates from the RabbitMQ\n"
               "    management API when it answers (default http://<AMQP host>:15672, with\n"
               "    the AMQP credentials).\n");
        return 0;
    }
    if (opts[2].present && opts[3].present) {
        ctl_error("--management and --no-management contradict each other");
        return CTL_EXIT_USAGE;
    }
    wc_broker_t *broker = ctl_broker(ctl, false);
    if (broker == NULL) {
        return CTL_EXIT_INFRA;
    }
    const char *names[QUEUES_MAX];
    size_t n = queue_names(names);
    json_object *mgmt = NULL;
    bool curl_ready = !opts[3].present && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (curl_ready) {
        mgmt = management_queues(ctl->cfg.amqp_url, opts[2].value);
    }
    if (!opts[3].present && mgmt == NULL) {
        fprintf(stderr, "the management API did not answer: no unacked counts or rates\n");
    }
    json_object *rows = json_object_new_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        long ready = 0;
        long consumers = 0;
        if (wc_broker_queue_stats(broker, names[i], &ready, &consumers) != 0) {
            ctl_error("could not read %s (a passive declare failed)", names[i]);
            rc = CTL_EXIT_INFRA;
            break;
        }
        json_object *row = json_object_new_object();
        json_object_object_add(row, "queue", json_object_new_string(names[i]));
        json_object_object_add(row, "ready", json_object_new_int64(ready));
        json_object_object_add(row, "consumers", json_object_new_int64(consumers));
        add_management(row, mgmt, names[i]);
        json_object_array_add(rows, row);
    }
    json_object_put(mgmt);
    if (curl_ready) {
        curl_global_cleanup();
    }
    if (rc == 0 && opts[1].present) {
        ctl_print_json(rows);
        return 0;
    }
    if (rc == 0) {
        print_text(rows);
    }
    json_object_put(rows);
    return rc;
}
