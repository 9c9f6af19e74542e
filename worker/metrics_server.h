/*
 * The worker master's metrics endpoint: GET /metrics answers the pool's
 * series (metrics.h) in the Prometheus text format, from one small
 * libmicrohttpd thread in the master. It reads shared memory only, so the
 * master still never touches the broker, the database or a provider.
 */
#ifndef WORKER_METRICS_SERVER_H
#define WORKER_METRICS_SERVER_H

#include "breakers.h"
#include "metrics.h"

typedef struct metrics_server metrics_server_t;

/* Listens on host:port (WAVECOM_WORKER_METRICS_HOST/_PORT). Start it after
 * the master has blocked its signals, so that its thread inherits the mask
 * and never takes a signal meant for the master's loop. The series are
 * borrowed and must outlive the server. NULL on failure, logged. */
metrics_server_t *metrics_server_start(const char *host, int port, const worker_metrics_t *metrics,
                                       const worker_breakers_t *breakers);

/* The listening socket, which a freshly forked child closes: it belongs to
 * the master. -1 when there is none. */
/* Serves what is waiting (accepts, reads, answers) without blocking; the
 * master calls it on every turn of its loop. */
void metrics_server_run(metrics_server_t *server);

int metrics_server_fd(const metrics_server_t *server);

/* Stops the thread and closes the socket; NULL is a no-op. */
void metrics_server_stop(metrics_server_t *server);

#endif
