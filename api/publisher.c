#include "publisher.h"

#include <pthread.h>
#include <stdlib.h>

#include "wc_log.h"
#include "wc_topology.h"

struct api_publisher {
    pthread_mutex_t lock;
    wc_broker_t *broker;
};

api_publisher_t *api_publisher_new(const wc_config_t *cfg)
{
    api_publisher_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    const wc_broker_options_t opts = {
        .url = cfg->amqp_url,
        .queue_type = cfg->queue_type,
        .name = "wavecom-api",
        .confirms = true,
        .heartbeat_seconds = 0, /* only used under the lock; a dead peer shows as a timeout */
        .timeout_ms = 10000,
    };
    p->broker = wc_broker_new(&opts);
    if (p->broker == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
        wc_broker_free(p->broker);
        free(p);
        return NULL;
    }
    return p;
}

void api_publisher_free(api_publisher_t *p)
{
    if (p == NULL) {
        return;
    }
    wc_broker_free(p->broker);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Called with the lock held. */
static bool open_locked(api_publisher_t *p)
{
    char err[256];
    if (wc_broker_ensure_open(p->broker, err, sizeof(err)) != 0) {
        wc_log_warn("RabbitMQ unavailable: %s", err);
        return false;
    }
    return true;
}

wc_broker_status_t api_publisher_publish(api_publisher_t *p, const wc_broker_message_t *msg)
{
    pthread_mutex_lock(&p->lock);
    wc_broker_status_t status = WC_BROKER_ERROR;
    for (int attempt = 0; attempt < 2 && status == WC_BROKER_ERROR; attempt++) {
        if (!open_locked(p)) {
            break;
        }
        status = wc_broker_publish(p->broker, msg);
    }
    pthread_mutex_unlock(&p->lock);
    return status;
}

bool api_publisher_probe(api_publisher_t *p)
{
    pthread_mutex_lock(&p->lock);
    bool ok = open_locked(p) && wc_broker_queue_depth(p->broker, WC_QUEUE_HIGH) >= 0;
    pthread_mutex_unlock(&p->lock);
    return ok;
}
