/*
 * The SMTP senders of one worker child.
 *
 * libesmtp is blocking, and the worker's loop thread must never block: it
 * services the AMQP heartbeats and every HTTP delivery. So SMTP sessions run
 * on a few threads of their own. The loop thread submits rendered messages;
 * each sender thread takes everything waiting (up to SMTP_POOL_BATCH_MAX) and
 * sends it in one libesmtp session: one connection, one STARTTLS and AUTH,
 * then MAIL/RCPT/DATA per message. Each message's own replies decide its
 * outcome, so one refused recipient fails only its own notification.
 *
 * Finished items go back through an eventfd that the loop polls; the loop
 * then takes them with smtp_pool_take_done and reports them itself. No timer
 * holds a batch back: while one session runs the next one gathers, so
 * sessions grow with the load and a lone message goes at once.
 *
 * The sender threads touch only the items they were given and the pool's own
 * copy of its options; nothing of the worker's (database, broker, curl) is
 * shared with them.
 */
#ifndef WORKER_SMTP_POOL_H
#define WORKER_SMTP_POOL_H

#include <stddef.h> /* libesmtp.h uses size_t without including it */

/* Before libesmtp.h, which declares its AUTH calls only after it. */
#include <auth-client.h>
#include <libesmtp.h>

#include "provider.h"
#include "wc_work_pool.h"

/* Most messages one session carries: long sessions keep a message waiting
 * for the others' round trips, and a server may limit transactions per
 * connection. */
#define SMTP_POOL_BATCH_MAX 50

typedef struct {
    char server[272];        /* host:port */
    char envelope_from[256]; /* MAIL FROM of every message */
    enum starttls_option starttls;
    char user[256];          /* empty: no AUTH */
    char password[256];
    long timeout_seconds;    /* bound on each SMTP command */
    int sessions;            /* sender threads, each with at most one session open */
} smtp_pool_options_t;

typedef struct smtp_item smtp_item_t;

/* One message to send. The submitter fills the input and hands the item to
 * the pool; the pool hands it back, with the result, from
 * smtp_pool_take_done. Between the two only a sender thread touches it. */
struct smtp_item {
    smtp_item_t *next; /* the next of the list smtp_pool_take_done returns */
    wc_work_t work;    /* the pool's */

    /* Input. */
    char *message;       /* the whole RFC 5322 message, CRLF line ends; owned */
    char recipient[256]; /* RCPT TO */
    char message_id[320];
    void *owner;         /* the submitter's (its delivery job); never read by the pool */

    /* Output, written by the sender thread. */
    delivery_result_t result;
};

/* A new item taking ownership of `message` (malloc'd). Returns NULL when out
 * of memory or when the recipient or id does not fit; `message` is then
 * still the caller's. */
smtp_item_t *smtp_item_new(char *message, const char *recipient, const char *message_id,
                           void *owner);
void smtp_item_free(smtp_item_t *item);

typedef struct smtp_pool smtp_pool_t;

/* Starts opts->sessions sender threads (with every signal blocked: signals
 * belong to the loop thread). The options are copied. Returns NULL, after
 * logging why, when a thread, the eventfd or the lock cannot be made. */
smtp_pool_t *smtp_pool_start(const smtp_pool_options_t *opts);

/* Queues `item` for the next free sender. Returns 0, or -1 when the pool is
 * stopping (the item is then still the caller's). The queue has no bound of
 * its own: a worker child holds at most twice its prefetch of jobs. */
int smtp_pool_submit(smtp_pool_t *pool, smtp_item_t *item);

/* Readable while finished items wait to be taken. */
int smtp_pool_fd(const smtp_pool_t *pool);

/* Every finished item, oldest first, as a list the caller now owns (NULL
 * when none). Call from the thread that polls smtp_pool_fd. */
smtp_item_t *smtp_pool_take_done(smtp_pool_t *pool);

/* Lets the senders send what is queued, joins them and frees the pool. Call
 * it only once every submitted item has been taken back: an item still in
 * the pool is freed without its owner hearing of it. */
void smtp_pool_free(smtp_pool_t *pool);

#endif
