#include "smtp_pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_policy.h"
#include "wc_log.h"

struct smtp_pool {
    smtp_pool_options_t opts;
    wc_work_pool_t *senders;
};

/* One message of a session and the handles libesmtp gave it. */
typedef struct {
    smtp_item_t *item;
    smtp_message_t message;
    smtp_recipient_t recipient;
} session_slot_t;

static smtp_item_t *item_of(wc_work_t *work) { return WC_WORK_OWNER(work, smtp_item_t, work); }

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
        r->suppress = delivery_policy_suppression_smtp(rs->code, rs->text);
    } else if (ended) {
        r->outcome = delivery_policy_classify_smtp(ms->code);
        snprintf(r->detail, sizeof(r->detail), "%d %s", ms->code, ms->text != NULL ? ms->text : "");
        r->suppress = delivery_policy_suppression_smtp(ms->code, ms->text);
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

static void fail_all(wc_work_t *batch, const char *why)
{
    for (wc_work_t *work = batch; work != NULL; work = work->next) {
        provider_fail(&item_of(work)->result, DELIVERY_TRANSIENT, "%s", why);
    }
}

/* Sends every item of `batch` (at most SMTP_POOL_BATCH_MAX) in one session
 * and sets each item's result; on a sender thread, which the pool then hands
 * the batch back from. */
static void send_batch(void *arg, int thread, wc_work_t *batch)
{
    (void)thread;
    smtp_pool_options_t *o = arg;
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
    for (wc_work_t *work = batch; work != NULL && n < SMTP_POOL_BATCH_MAX; work = work->next) {
        slots[n] = (session_slot_t){.item = item_of(work)};
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

/* --- the loop thread's side --- */

smtp_pool_t *smtp_pool_start(const smtp_pool_options_t *opts)
{
    smtp_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        wc_log_error("SMTP pool: out of memory");
        return NULL;
    }
    pool->opts = *opts;
    const wc_work_pool_options_t work_opts = {
        .name = "SMTP pool",
        .threads = opts->sessions,
        .batch_max = SMTP_POOL_BATCH_MAX,
        .hand_back = true,
        .run = send_batch,
        .arg = &pool->opts,
    };
    pool->senders = wc_work_pool_start(&work_opts);
    if (pool->senders == NULL) {
        free(pool);
        return NULL;
    }
    return pool;
}

int smtp_pool_submit(smtp_pool_t *pool, smtp_item_t *item)
{
    item->work = (wc_work_t){0};
    return wc_work_pool_submit(pool->senders, &item->work) == WC_WORK_QUEUED ? 0 : -1;
}

int smtp_pool_fd(const smtp_pool_t *pool) { return wc_work_pool_fd(pool->senders); }

/* The pool's list of finished works as a list of items. */
static smtp_item_t *items_of(wc_work_t *work)
{
    smtp_item_t *head = NULL;
    smtp_item_t **link = &head;
    for (; work != NULL; work = work->next) {
        *link = item_of(work);
        link = &(*link)->next;
    }
    *link = NULL;
    return head;
}

smtp_item_t *smtp_pool_take_done(smtp_pool_t *pool)
{
    return items_of(wc_work_pool_take_done(pool->senders));
}

void smtp_pool_free(smtp_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    /* The senders send the whole queue before they stop; what is left is
     * finished work nobody took. */
    wc_work_pool_stop(pool->senders);
    size_t orphans = 0;
    smtp_item_t *item = items_of(wc_work_pool_take_done(pool->senders));
    while (item != NULL) {
        smtp_item_t *next = item->next;
        smtp_item_free(item);
        orphans++;
        item = next;
    }
    if (orphans > 0) {
        wc_log_error("SMTP pool freed with %zu finished email(s) never reported", orphans);
    }
    wc_work_pool_free(pool->senders);
    free(pool);
}
