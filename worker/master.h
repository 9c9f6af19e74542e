/*
 * The worker master: forks the children, restarts those that die (spacing
 * the restarts out), rolls them over on SIGHUP and drains them on SIGTERM.
 * It supervises and nothing else: it never touches the broker, the database
 * or a provider.
 */
#ifndef WORKER_MASTER_H
#define WORKER_MASTER_H

#include "wc_config.h"

/* Runs until SIGTERM/SIGINT and the drain that follows; returns the exit code:
 * 0 after a clean drain, 1 when every child failed fatally. */
int worker_master_run(wc_config_t *cfg);

#endif
