/*
 * wavecomctl dlq replay and dlq purge (ctl_dlq_replay.c), called by the dlq
 * command (ctl_dlq.c) with its parsed options. Private to wavecomctl.
 */
#ifndef WAVECOM_CTL_DLQ_REPLAY_H
#define WAVECOM_CTL_DLQ_REPLAY_H

#include <stdbool.h>

#include "ctl_dlq_scan.h"

/* dlq replay (purge false) or dlq purge, with the parsed options. */
int ctl_dlq_act(ctl_t *ctl, ctl_opt_t *opts, const dlq_filter_t *f, bool purge);

#endif
