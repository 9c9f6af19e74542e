#include "smtp_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "delivery_policy.h"
#include "wc_log.h"

struct smtp_pool {
    smtp_pool_options_t opts;

    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled when an item is queued, or on stop */
    smtp_item_t *queue_head, *queue_tail;
    smtp_item_t *done_head, *done_tail;
    bool stopping;

    int event_fd; /* readable while done_head is (or was) non-empty */
    pthread_t *threads;
    int started;
};

/* One message of a session and the handles libesmtp gave it. */
typedef struct {
    smtp_item_t *item;
    smtp_message_t message;
    smtp_recipient_t recipient;
} session_slot_t;

/* Locking and signalling a valid mutex or condition fails only on a
 * programming error, after which nothing here can be trusted: stop loudly
 * rather than carry on unsynchronised. */
static void must(int rc, const char *call)
{
    if (rc != 0) {
        wc_log_error("%s: %s", call, strerror(rc));
        abort();
    }
}

smtp_item_t *smtp_item_new(char *message, const char *recipient, const char *message_id,
                           void *owner)
{
    smtp_item_t *item = calloc(1, sizeof(*item));
    if (item == NULL) {
        return NULL;
    }
    int n = snprintf(item->recipient, sizeof(item->recipient), "%s", recipient);
    int m = snprintf(item->message_id, sizeof(item->message_id), "%s", message_id);
    if (n < 0 || (size_t)n >= sizeof(item->recipient) || m < 0 ||
        (size_t)m >= sizeof(item->message_id)) {
        free(item);
        return NULL;
    }
    item->message = message;
    item->owner = owner;
    return item;
}

void smtp_item_free(smtp_item_t *item)
{
    if (item == NULL) {
        return;
    }
    free(item->message);
    free(item);
}

/* --- the sender threads --- */

/* libesmtp asks for the credentials through this callback. */
static int auth_interact(auth_client_request_t request, char **result, int fields, void *arg)
{
    smtp_pool_options_t *o = arg;
    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_USER) {
            result[i] = o->user;
        } else if (request[i].flags & AUTH_PASS) {
            result[i] = o->password;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Server, timeouts, STARTTLS and AUTH as configured. Returns 0, or -1 with
 * the reason in `why`; `*auth` is set once created, for the caller to free. */
static int configure_session(smtp_pool_options_t *o, smtp_session_t session,
                             auth_context_t *auth, char *why, size_t why_len)
{
    if (!smtp_set_server(session, o->server)) {
        snprintf(why, why_len, "invalid SMTP server %s", o->server);
        return -1;
    }
    long t = o->timeout_seconds * 1000;
    const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER,
                         Timeout_DATA2};
    for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        if (smtp_set_timeout(session, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, t) <= 0) {
            snprintf(why, why_len, "cannot set the SMTP timeouts");
            return -1;
        }
    }
    if (!smtp_starttls_enable(session, o->starttls)) {
        snprintf(why, why_len, "cannot configure STARTTLS");
        return -1;
    }
    if (o->user[0] == '\0') {
        return 0;
    }
    *auth = auth_create_context();
    if (*auth == NULL || !auth_set_mechanism_flags(*auth, AUTH_PLUGIN_PLAIN, 0) ||
        !auth_set_interact_cb(*auth, auth_interact, o) || !smtp_auth_set_context(session, *auth)) {
        snprintf(why, why_len, "cannot configure SMTP AUTH");
        return -1;
    }
    return 0;
}

/* Adds the slot's item to the session. Returns 0, or -1 after failing the
 * item (it then stays out of the session: a message without recipients is
 * skipped by libesmtp). */
static int add_to_session(smtp_session_t session, const char *from, session_slot_t *slot)
{
    smtp_item_t *item = slot->item;
    slot->message = smtp_add_message(session);
    if (slot->message == NULL || !smtp_set_reverse_path(slot->message, from) ||
        !smtp_set_message_str(slot->message, item->message)) {
        slot->message = NULL;
        provider_fail(&item->result, DELIVERY_TRANSIENT, "cannot add the message to an SMTP session");
        return -1;
    }
    slot->recipient = smtp_add_recipient(slot->message, item->recipient);
    if (slot->recipient == NULL) {
        slot->message = NULL;
        provider_fail(&item->result, DELIVERY_TRANSIENT, "cannot add the recipient to an SMTP session");
        return -1;
    }
    return 0;
}

/* Keeps a server's reply to one line in the trail. */
static void one_line(char *s) { s[strcspn(s, "\r\n")] = '\0'; }

/* The item's outcome from its own replies. A reply that ended its
 * transaction wins over a session that failed later: a message accepted
 * before the connection dropped was delivered, and retrying it would send it
 * twice. */
static void read_outcome(const session_slot_t *slot, const char *server, const char *session_error)
{
    delivery_result_t *r = &slot->item->result;
    const smtp_status_t *rs = smtp_recipient_status(slot->recipient);
    const smtp_status_t *ms = smtp_message_transfer_status(slot->message);
    const smtp_status_t *ps = smtp_reverse_path_status(slot->message);
    /* A 3xx is the 354 before the data: the transfer never ended. */
    bool ended = ms != NULL && ms->code != 0 && ms->code / 100 != 3;
    if (rs != NULL && rs->code != 0 && delivery_policy_classify_smtp(rs->code) != DELIVERY_OK) {
        provider_fail(r, delivery_policy_classify_smtp(rs->code), "recipient refused: %d %s",
                      rs->code, rs->text != NULL ? rs->text : "");
    } else if (ended) {
        r->outcome = delivery_policy_classify_smtp(ms->code);
        snprintf(r->detail, sizeof(r->detail), "%d %s", ms->code, ms->text != NULL ? ms->text : "");
        if (r->outcome == DELIVERY_OK) {
            snprintf(r->provider_message_id, sizeof(r->provider_message_id), "%s",
                     slot->item->message_id);
        }
    } else if (session_error != NULL) {
        provider_fail(r, DELIVERY_TRANSIENT, "%s", session_error);
    } else if (ps != NULL && ps->code != 0 && delivery_policy_classify_smtp(ps->code) != DELIVERY_OK) {
        provider_fail(r, DELIVERY_TRANSIENT, "sender refused: %d %s", ps->code,
                      ps->text != NULL ? ps->text : "");
    } else {
        /* libesmtp counts a server that vanished or timed out (greeting
         * included) as a session that ended well: the messages it never got
         * to just have no reply. */
        provider_fail(r, DELIVERY_TRANSIENT,
                      "SMTP session to %s ended (connection lost or timed out) before this "
                      "message was answered",
                      server);
    }
    one_line(r->detail);
}

static void fail_all(smtp_item_t *batch, const char *why)
{
    for (smtp_item_t *item = batch; item != NULL; item = item->next) {
        provider_fail(&item->result, DELIVERY_TRANSIENT, "%s", why);
    }
}

/* Sends every item of `batch` (at most SMTP_POOL_BATCH_MAX) in one session
 * and sets each item's result. */
static void send_batch(smtp_pool_options_t *o, smtp_item_t *batch)
{
    session_slot_t slots[SMTP_POOL_BATCH_MAX];
    size_t n = 0;
    char why[400];
    const char *session_error = NULL;
    auth_context_t auth = NULL;
    smtp_session_t session = smtp_create_session();
    if (session == NULL) {
        fail_all(batch, "cannot create an SMTP session");
        return;
    }
    if (configure_session(o, session, &auth, why, sizeof(why)) != 0) {
        wc_log_error("SMTP session to %s: %s", o->server, why);
        fail_all(batch, why);
        goto out;
    }
    for (smtp_item_t *item = batch; item != NULL && n < SMTP_POOL_BATCH_MAX; item = item->next) {
        slots[n] = (session_slot_t){.item = item};
        if (add_to_session(session, o->envelope_from, &slots[n]) == 0) {
            n++;
        }
    }
    if (n == 0) {
        goto out; /* every item failed already */
    }

    if (!smtp_start_session(session)) {
        char err[128];
        const char *text = smtp_strerror(smtp_errno(), err, sizeof(err));
        snprintf(why, sizeof(why), "SMTP session to %s failed: %s", o->server,
                 text != NULL ? text : "unknown error");
        session_error = why;
        wc_log_warn("%s (%zu message(s) in the session)", why, n);
    }
    for (size_t i = 0; i < n; i++) {
        read_outcome(&slots[i], o->server, session_error);
    }
    wc_log_debug("SMTP session to %s carried %zu message(s)", o->server, n);

out:
    if (!smtp_destroy_session(session)) {
        wc_log_error("SMTP pool: smtp_destroy_session failed");
    }
    if (auth != NULL && !auth_destroy_context(auth)) {
        wc_log_error("SMTP pool: auth_destroy_context failed");
    }
}

/* Everything queued, up to SMTP_POOL_BATCH_MAX, as a list; waits while
 * nothing is. NULL once the pool stops with nothing left to send. */
static smtp_item_t *take_batch(smtp_pool_t *pool)
{
    must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
    while (pool->queue_head == NULL && !pool->stopping) {
        must(pthread_cond_wait(&pool->wake, &pool->lock), "pthread_cond_wait");
    }
    smtp_item_t *first = pool->queue_head;
    smtp_item_t *last = first;
    for (int n = 1; last != NULL && last->next != NULL && n < SMTP_POOL_BATCH_MAX; n++) {
        last = last->next;
    }
    if (last != NULL) {
        pool->queue_head = last->next;
        if (pool->queue_head == NULL) {
            pool->queue_tail = NULL;
        }
        last->next = NULL;
    }
    must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
    return first;
}

/* Hands a sent batch back to the loop thread and wakes its poll. */
static void finish_batch(smtp_pool_t *pool, smtp_item_t *batch)
{
    smtp_item_t *last = batch;
    while (last->next != NULL) {
        last = last->next;
    }
    must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
    if (pool->done_tail != NULL) {
        pool->done_tail->next = batch;
    } else {
        pool->done_head = batch;
    }
    pool->done_tail = last;
    must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");

    const uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the descriptor is readable
     * already. No EINTR: the senders block every signal. */
    if (write(pool->event_fd, &one, sizeof(one)) != (ssize_t)sizeof(one) && errno != EAGAIN) {
        wc_log_error("SMTP pool: write to eventfd: %s", strerror(errno));
    }
}

static void *sender_main(void *arg)
{
    smtp_pool_t *pool = arg;
    smtp_item_t *batch;
    while ((batch = take_batch(pool)) != NULL) {
        send_batch(&pool->opts, batch);
        finish_batch(pool, batch);
    }
    return NULL;
}

/* --- the loop thread's side --- */

/* Stops the started senders once the queue is empty and waits for them. */
static void stop_senders(smtp_pool_t *pool)
{
    must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
    pool->stopping = true;
    must(pthread_cond_broadcast(&pool->wake), "pthread_cond_broadcast");
    must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
    for (int i = 0; i < pool->started; i++) {
        int rc = pthread_join(pool->threads[i], NULL);
        if (rc != 0) {
            wc_log_error("SMTP pool: pthread_join: %s", strerror(rc));
        }
    }
    pool->started = 0;
}

/* Starts the sender threads with the asynchronous signals blocked, so that
 * SIGTERM reaches the loop thread and never interrupts an SMTP exchange.
 * Faults stay deliverable: a crash in a sender must still be reported. */
static int start_senders(smtp_pool_t *pool)
{
    sigset_t all, old;
    sigfillset(&all);
    const int faults[] = {SIGILL, SIGFPE, SIGSEGV, SIGBUS};
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        sigdelset(&all, faults[i]);
    }
    int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc != 0) {
        wc_log_error("SMTP pool: pthread_sigmask: %s", strerror(rc));
        return -1;
    }
    for (int i = 0; i < pool->opts.sessions; i++) {
        rc = pthread_create(&pool->threads[i], NULL, sender_main, pool);
        if (rc != 0) {
            wc_log_error("SMTP pool: cannot start sender thread %d: %s", i, strerror(rc));
            break;
        }
        pool->started++;
    }
    int restored = pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (restored != 0) {
        wc_log_error("SMTP pool: pthread_sigmask: %s", strerror(restored));
    }
    return rc == 0 && restored == 0 ? 0 : -1;
}

smtp_pool_t *smtp_pool_start(const smtp_pool_options_t *opts)
{
    smtp_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        wc_log_error("SMTP pool: out of memory");
        return NULL;
    }
    pool->opts = *opts;
    pool->event_fd = -1;
    pool->threads = calloc((size_t)opts->sessions, sizeof(*pool->threads));
    if (pool->threads == NULL) {
        wc_log_error("SMTP pool: out of memory");
        free(pool);
        return NULL;
    }
    int rc = pthread_mutex_init(&pool->lock, NULL);
    if (rc != 0) {
        wc_log_error("SMTP pool: pthread_mutex_init: %s", strerror(rc));
        goto fail_lock;
    }
    rc = pthread_cond_init(&pool->wake, NULL);
    if (rc != 0) {
        wc_log_error("SMTP pool: pthread_cond_init: %s", strerror(rc));
        goto fail_cond;
    }
    pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->event_fd < 0) {
        wc_log_error("SMTP pool: eventfd: %s", strerror(errno));
        goto fail_fd;
    }
    if (start_senders(pool) != 0) {
        stop_senders(pool);
        close(pool->event_fd);
        goto fail_fd;
    }
    return pool;

fail_fd:
    must(pthread_cond_destroy(&pool->wake), "pthread_cond_destroy");
fail_cond:
    must(pthread_mutex_destroy(&pool->lock), "pthread_mutex_destroy");
fail_lock:
    free(pool->threads);
    free(pool);
    return NULL;
}

int smtp_pool_submit(smtp_pool_t *pool, smtp_item_t *item)
{
    must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
    if (pool->stopping) {
        must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
        return -1;
    }
    item->next = NULL;
    if (pool->queue_tail != NULL) {
        pool->queue_tail->next = item;
    } else {
        pool->queue_head = item;
    }
    pool->queue_tail = item;
    must(pthread_cond_signal(&pool->wake), "pthread_cond_signal");
    must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
    return 0;
}

int smtp_pool_fd(const smtp_pool_t *pool) { return pool->event_fd; }

smtp_item_t *smtp_pool_take_done(smtp_pool_t *pool)
{
    /* Reset the descriptor before taking the list: a batch finished in
     * between then leaves it readable, and the next poll comes back here. */
    uint64_t count;
    if (read(pool->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN && errno != EINTR) {
        wc_log_error("SMTP pool: read from eventfd: %s", strerror(errno));
    }
    must(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
    smtp_item_t *done = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    must(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
    return done;
}

void smtp_pool_free(smtp_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    stop_senders(pool);
    /* The senders sent the whole queue before they stopped; what is left is
     * finished work nobody took. */
    size_t orphans = 0;
    smtp_item_t *item = pool->done_head;
    while (item != NULL) {
        smtp_item_t *next = item->next;
        smtp_item_free(item);
        orphans++;
        item = next;
    }
    if (orphans > 0) {
        wc_log_error("SMTP pool freed with %zu finished email(s) never reported", orphans);
    }
    if (close(pool->event_fd) != 0) {
        wc_log_error("SMTP pool: close eventfd: %s", strerror(errno));
    }
    must(pthread_cond_destroy(&pool->wake), "pthread_cond_destroy");
    must(pthread_mutex_destroy(&pool->lock), "pthread_mutex_destroy");
    free(pool->threads);
    free(pool);
}
