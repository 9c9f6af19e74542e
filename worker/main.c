/* wavecom-worker: the master of the delivery worker pool. */
#include <stdio.h>
#include <string.h>

#include "master.h"
#include "wc_log.h"

int main(int argc, char **argv)
{
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        FILE *out = help ? stdout : stderr;
        fprintf(out, "Usage: wavecom-worker [--help]\n\n"
                     "Runs the delivery worker pool: a master and WAVECOM_WORKER_PROCESSES\n"
                     "children. SIGTERM drains, SIGHUP reloads the configuration.\n\n");
        wc_config_print_help(out);
        return help ? 0 : 2;
    }
    wc_config_t cfg;
    char err[512];
    if (wc_config_load(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "wavecom-worker: configuration error: %s\n", err);
        return 2;
    }
    wc_log_level_t level = WC_LOG_INFO;
    wc_log_level_parse(cfg.log_level, &level);
    wc_log_init("worker-master", level);
    return worker_master_run(&cfg);
}
