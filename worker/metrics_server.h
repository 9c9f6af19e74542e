/*
 * The worker master's metrics endpoint: GET /metrics answers the pool's
 * series (metrics.h) in the Prometheus text format. It reads shared memory
 * only, so the master still never touches the broker, the database or a
 * provider.
 *
 * It has no thread of its own: the master's loop serves it
 * (metrics_server_run) between its waits. A libmicrohttpd thread of its own
 * would break the children: fork copies a thread's locks but not the thread,
 * so a child forked while that thread held an allocator lock would inherit
 * the lock held, with nobody left to release it, and hang in its first
 * malloc.
 */
#ifndef WORKER_METRICS_SERVER_H
#define WORKER_METRICS_SERVER_H

#include "breakers.h"
#include "metrics.h"

typedef struct metrics_server metrics_server_t;

/* Listens on host:port (WAVECOM_WORKER_METRICS_HOST/_PORT). The series are
 * borrowed and must outlive the server. NULL on failure, logged. */
metrics_server_t *metrics_server_start(const char *host, int port, const worker_metrics_t *metrics,
                                       const worker_breakers_t *breakers);

/* Serves what is waiting (accepts, reads, answers) without blocking; the
 * master calls it on every turn of its loop. */
void metrics_server_run(metrics_server_t *server);

/* The listening socket, which a freshly forked child closes: it belongs to
 * the master. -1 when there is none. */
int metrics_server_fd(const metrics_server_t *server);

/* Stops serving and closes the socket; NULL is a no-op. */
void metrics_server_stop(metrics_server_t *server);

#endif
