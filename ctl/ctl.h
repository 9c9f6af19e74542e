/*
 * wavecomctl's shared parts: exit codes, option parsing, connections and
 * output helpers. Each command group lives in its own file (ctl_admin.c,
 * ctl_keys.c, ctl_dlq.c + ctl_dlq_replay.c, ctl_notification.c, ctl_queues.c); ctl.c
 * dispatches to them.
 *
 * Conventions every command keeps: what a script needs goes to stdout (a
 * table, or JSON with --json); everything said to a person goes to stderr,
 * errors as one line starting "wavecomctl: ".
 */
#ifndef WAVECOM_CTL_H
#define WAVECOM_CTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "wc_broker.h"
#include "wc_config.h"
#include "wc_store.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_INFRA 1       /* the broker or the database failed */
#define CTL_EXIT_USAGE 2       /* bad arguments; nothing was done */
#define CTL_EXIT_NOT_FOUND 3   /* the named thing does not exist */
#define CTL_EXIT_INTERRUPTED 130 /* SIGINT: stopped cleanly between two items */

/* One option a command accepts. `repeat` options collect every value. */
#define CTL_OPT_VALUES_MAX 64

typedef struct {
    const char *name;  /* "--tenant" */
    bool has_value;
    bool present;
    const char *value; /* the last value given */
    const char *values[CTL_OPT_VALUES_MAX];
    size_t count;
} ctl_opt_t;

/* Parses argv[from..) against `opts` (every command also takes --help and
 * --json, which the caller lists). Words that are not options go to
 * `positional` (at most `max_pos`). Returns 0, or prints one line and returns
 * CTL_EXIT_USAGE. */
int ctl_parse(int argc, char **argv, int from, ctl_opt_t *opts, size_t n_opts,
              const char **positional, size_t max_pos, size_t *n_pos);

/* The words of a subcommand's command line that are not options. */
typedef struct {
    const char *word[CTL_OPT_VALUES_MAX];
    size_t n;
} ctl_words_t;

/* ctl_parse for a subcommand (its words from argv[3] on, at most `max_words`
 * of them into `words`) whose opts list --help. Returns 0 to go on; anything
 * else is what the command returns at once: CTL_EXIT_USAGE, or
 * CTL_HELP_SHOWN after printing `print_usage` to stdout for --help, which
 * main turns into exit code 0. */
#define CTL_HELP_SHOWN (-1)
int ctl_parse_command(int argc, char **argv, ctl_opt_t *opts, size_t n_opts,
                      void (*print_usage)(FILE *), ctl_words_t *words, size_t max_words);

/* The option named `name` among opts[0..n). Never NULL for a listed name. */
ctl_opt_t *ctl_opt(ctl_opt_t *opts, size_t n, const char *name);

/* Everything a command may need, opened on first use. */
typedef struct {
    wc_config_t cfg;
    bool json;
    char actor[96];        /* "wavecomctl:<user>", for audit entries */
    wc_store_t *store;     /* NULL until ctl_store() */
    wc_broker_t *consumer; /* no confirms: reads the DLQ with manual acks */
    wc_broker_t *publisher; /* confirms: republishes */
} ctl_t;

/* The store, reachable (a ping answered); NULL after printing why. */
wc_store_t *ctl_store(ctl_t *ctl);

/* An open broker connection, with or without confirms; NULL after printing
 * why. */
wc_broker_t *ctl_broker(ctl_t *ctl, bool confirms);

void ctl_close(ctl_t *ctl);

/* Prints one line "wavecomctl: ..." on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints `value` on stdout as pretty JSON and drops the reference. */
void ctl_print_json(json_object *value);

/* Writes a masked form of `recipient` into `out`: an email keeps its first
 * character and its domain, a phone number its last four digits, a token or
 * URL its first and last few characters. Lists never show a whole recipient. */
void ctl_mask_recipient(const char *recipient, char *out, size_t out_len);

/* True when `text` is 24 hex digits; fills *oid. */
bool ctl_parse_oid(const char *text, bson_oid_t *oid);

/* The member `key` of the JSON object `row` as text; "-" when it is absent
 * or null. */
const char *ctl_row_text(json_object *row, const char *key);

/* A column of a text table: its header, its width (printf's: negative pads
 * on the right, 0 does not pad), the most characters a cell shows (0: all),
 * and its cell: the row's member `key`, or what `cell` makes of the row. */
typedef struct {
    const char *header;
    int width;
    int max_chars;
    const char *key;
    const char *(*cell)(json_object *row);
} ctl_column_t;

/* Prints `rows`, an array of JSON objects, as a table: a header line, then a
 * line per row, cells `gap` apart. One lister for every list command. */
void ctl_print_table(json_object *rows, const ctl_column_t *cols, size_t n_cols, const char *gap);

/* True when `text` may name an API key: the key, or the hint `apikey list`
 * shows (wck_ and 8 or more hex digits); says why not otherwise. */
bool ctl_key_named(const char *text);

/* The exit code for the store's answer to a command about the `kind`
 * ("tenant", "notification") whose id is `id`: 0 for OK; for NOT_FOUND,
 * CTL_EXIT_NOT_FOUND after saying there is none (followed by `or_else`, the
 * other reason it may have, when not NULL); otherwise CTL_EXIT_INFRA after
 * saying the database failed while `doing` it. */
int ctl_store_exit(wc_store_status_t status, const char *kind, const char *id,
                   const char *or_else, const char *doing);

/* The exit code for the store's answer to a command that named the key
 * `text`: 0 for OK, else the reason said (no such key, a hint that matches
 * several, the database failing while `doing`). */
int ctl_key_lookup_exit(wc_store_status_t status, const char *text, const char *doing);

/* A group's subcommand: its word and what runs it (with argv from the
 * group's word on). */
typedef struct {
    const char *name;
    int (*run)(ctl_t *ctl, int argc, char **argv);
} ctl_subcommand_t;

/* Runs the subcommand of `group` named by argv[2], prints its usage for
 * --help (print_usage), or says the command is unknown (CTL_EXIT_USAGE). */
int ctl_dispatch(ctl_t *ctl, int argc, char **argv, const char *group,
                 const ctl_subcommand_t *subcommands, size_t n, void (*print_usage)(FILE *out));

/* For a group whose subcommands share one parser: argv[2] when it is one of
 * `names` (NULL-terminated). Otherwise NULL, with *exit_code what the group
 * returns: 0 after printing `print_usage` to stdout for --help; or
 * CTL_EXIT_USAGE after printing it to stderr (no subcommand) or saying the
 * subcommand is unknown. */
const char *ctl_subcommand_word(int argc, char **argv, const char *group,
                                const char *const *names, void (*print_usage)(FILE *out),
                                int *exit_code);

/* How many elements the array `a` has. */
#define CTL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Command groups: each gets argv from its group's word on. */
int ctl_dlq_main(ctl_t *ctl, int argc, char **argv);
int ctl_notification_main(ctl_t *ctl, int argc, char **argv);
int ctl_tenant_main(ctl_t *ctl, int argc, char **argv);
int ctl_apikey_main(ctl_t *ctl, int argc, char **argv);
int ctl_queues_main(ctl_t *ctl, int argc, char **argv);
int ctl_counters_main(ctl_t *ctl, int argc, char **argv);
int ctl_suppressions_main(ctl_t *ctl, int argc, char **argv);

/* API key usage and quotas (ctl_keys.c). */

/* Adds each row's usage (lastUsedAt, lastUsedFrom, requests30d, accepted30d,
 * refused30d, stale) to the `apikey list` rows ({hint, tenant, createdAt, ...}).
 * Returns 0, or -1 when the database failed. */
int ctl_keys_add_usage(ctl_t *ctl, json_object *rows);

int ctl_apikey_usage(ctl_t *ctl, int argc, char **argv);
int ctl_apikey_quota(ctl_t *ctl, int argc, char **argv);
int ctl_tenant_quota(ctl_t *ctl, int argc, char **argv);

#endif
