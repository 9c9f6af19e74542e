#include "periodic.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "wc_log.h"

struct api_periodic {
    pthread_t thread;
    pthread_mutex_t lock; /* guards `stopping` */
    pthread_cond_t wake;  /* signalled by api_periodic_stop */
    bool stopping;
    api_periodic_run_t run;
    void *arg;
};

bool api_periodic_stopping(api_periodic_t *p)
{
    pthread_mutex_lock(&p->lock);
    bool stop = p->stopping;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

static void *periodic_main(void *arg)
{
    api_periodic_t *p = arg;
    while (!api_periodic_stopping(p)) {
        int64_t wait_ms = p->run(p, p->arg);
        pthread_mutex_lock(&p->lock);
        if (!p->stopping && wait_ms > 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t ns = until.tv_nsec + wait_ms % 1000 * 1000000LL;
            until.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000LL);
            until.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
        }
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

api_periodic_t *api_periodic_start(const char *what, api_periodic_run_t run, void *arg)
{
    api_periodic_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wc_log_error("cannot start the %s thread: out of memory", what);
        return NULL;
    }
    p->run = run;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
        wc_log_error("cannot start the %s thread", what);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void api_periodic_stop(api_periodic_t *p)
{
    if (p != NULL) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
}
