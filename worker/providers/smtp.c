/*
 * EMAIL over SMTP with libesmtp: STARTTLS and AUTH as configured, a
 * Message-ID derived from the notification id (so a receiving system can
 * recognise the duplicate that at-least-once delivery may produce), UTF-8
 * subjects as RFC 2047 encoded words, and a base64 body that keeps every
 * line short whatever the client sent: text/plain, or multipart/alternative
 * when the notification has an HTML part.
 *
 * With WAVECOM_PUBLIC_BASE_URL and WAVECOM_UNSUBSCRIBE_SECRET set, every email
 * carries RFC 8058's List-Unsubscribe (a signed, expiring link to the API's
 * /unsubscribe, wc_unsubscribe_token.h) and List-Unsubscribe-Post.
 *
 * Two rows of the provider table use this file: "smtp", the relay of
 * WAVECOM_SMTP_HOST, and "smtp2", the relay of WAVECOM_SMTP2_HOST that the
 * email channel fails over to (docs/ARCHITECTURE.md §6).
 *
 * start() renders the email on the loop thread and hands it to the sender
 * threads of smtp_pool.c, which send whatever has gathered over one
 * connection; the outcome comes back through the pool's descriptor and is
 * reported from on_ready, on the loop thread again.
 */
#include <stddef.h> /* libesmtp.h uses size_t without including it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "provider.h"
#include "smtp_pool.h"
#include "wc_crypto.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_time.h"
#include "wc_unsubscribe_token.h"

typedef struct {
    char from_header[256]; /* as configured, e.g. "WaveCom <n@example.com>" */
    char from_address[256];
    /* Empty base or secret: no List-Unsubscribe header. */
    char unsubscribe_base[512];
    char unsubscribe_secret[256];
    int unsubscribe_ttl_seconds;
    smtp_pool_t *pool;
} smtp_state_t;

/* A message is at most 5,000 characters (20,000 bytes of UTF-8) and its HTML
 * alternative 20,000 (80,000 bytes); both in base64 with the headers stay well
 * inside this. The buffer is shrunk to what the email took once it is built. */
#define MAX_EMAIL_BYTES 262144
#define BASE64_LINE 76
/* 45 bytes encode to 60 base64 characters: one encoded word stays under the
 * 75 characters RFC 2047 allows. */
#define ENCODED_WORD_BYTES 45

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int overflow;
} text_t;

static void text_append(text_t *t, const char *s, size_t n)
{
    if (t->overflow || t->len + n + 1 > t->cap) {
        t->overflow = 1;
        return;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void text_appends(text_t *t, const char *s) { text_append(t, s, strlen(s)); }

static int is_ascii_printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Subject: plain when printable ASCII, else UTF-8 encoded words split on
 * character boundaries and folded one per line. */
static void append_subject(text_t *t, const char *subject)
{
    text_appends(t, "Subject: ");
    if (is_ascii_printable(subject)) {
        text_appends(t, subject);
        text_appends(t, "\r\n");
        return;
    }
    size_t len = strlen(subject);
    size_t pos = 0;
    while (pos < len) {
        size_t n = len - pos < ENCODED_WORD_BYTES ? len - pos : ENCODED_WORD_BYTES;
        while (pos + n < len && ((unsigned char)subject[pos + n] & 0xC0) == 0x80) {
            n--; /* never split a UTF-8 sequence */
        }
        char b64[4 * ((ENCODED_WORD_BYTES + 2) / 3) + 1];
        wc_base64_encode(subject + pos, n, b64, sizeof(b64));
        if (pos > 0) {
            text_appends(t, "\r\n ");
        }
        text_appends(t, "=?UTF-8?B?");
        text_appends(t, b64);
        text_appends(t, "?=");
        pos += n;
    }
    text_appends(t, "\r\n");
}

static void append_body_base64(text_t *t, const char *body)
{
    size_t len = strlen(body);
    /* 57 input bytes make one 76-character line. */
    const size_t chunk = BASE64_LINE / 4 * 3;
    for (size_t pos = 0; pos < len; pos += chunk) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        char line[BASE64_LINE + 1];
        wc_base64_encode(body + pos, n, line, sizeof(line));
        text_appends(t, line);
        text_appends(t, "\r\n");
    }
}

/* One MIME part (or the whole body): its headers, then its text in base64. */
static void append_part(text_t *t, const char *content_type, const char *text)
{
    text_appends(t, "Content-Type: ");
    text_appends(t, content_type);
    text_appends(t, "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    append_body_base64(t, text);
}

/* The body: text/plain alone, or with an HTML alternative as
 * multipart/alternative (plain first: a client shows the last part it can).
 * The boundary cannot occur inside a part, whose lines are base64, which has
 * no '-'. */
static void append_body(text_t *t, const char *id, const char *body, const char *html)
{
    text_appends(t, "MIME-Version: 1.0\r\n");
    if (html == NULL) {
        append_part(t, "text/plain", body);
        return;
    }
    char boundary[64];
    snprintf(boundary, sizeof(boundary), "wavecom-alt-%s", id);
    text_appends(t, "Content-Type: multipart/alternative; boundary=\"");
    text_appends(t, boundary);
    text_appends(t, "\"\r\n\r\n--");
    text_appends(t, boundary);
    text_appends(t, "\r\n");
    append_part(t, "text/plain", body);
    text_appends(t, "--");
    text_appends(t, boundary);
    text_appends(t, "\r\n");
    append_part(t, "text/html", html);
    text_appends(t, "--");
    text_appends(t, boundary);
    text_appends(t, "--\r\n");
}

/* RFC 8058's two headers, for a notification of `tenant` to `to`; nothing
 * when links are not configured or the token cannot be made (the email is
 * still worth sending). */
static void append_unsubscribe(text_t *t, const smtp_state_t *st, const char *tenant,
                               const char *to)
{
    if (st->unsubscribe_base[0] == '\0' || st->unsubscribe_secret[0] == '\0' || tenant == NULL) {
        return;
    }
    wc_unsubscribe_claims_t claims = {
        .channel = WC_CHANNEL_EMAIL,
        .expires_s = wc_time_now_ms() / 1000 + st->unsubscribe_ttl_seconds,
    };
    snprintf(claims.tenant_id, sizeof(claims.tenant_id), "%s", tenant);
    snprintf(claims.recipient, sizeof(claims.recipient), "%s", to);
    char token[WC_UNSUBSCRIBE_TOKEN_MAX];
    if (wc_unsubscribe_token_sign(st->unsubscribe_secret, &claims, token, sizeof(token)) != 0) {
        return;
    }
    text_appends(t, "List-Unsubscribe: <");
    text_appends(t, st->unsubscribe_base);
    text_appends(t, "/unsubscribe?token=");
    text_appends(t, token);
    text_appends(t, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
}

static int build_message(const smtp_state_t *st, const char *id, const char *tenant,
                         const char *to, const char *subject, const char *body, const char *html,
                         char *message_id, size_t message_id_len, text_t *t)
{
    char host[128];
    const char *at = strchr(st->from_address, '@');
    snprintf(host, sizeof(host), "%s", at != NULL ? at + 1 : "wavecom.local");
    snprintf(message_id, message_id_len, "<%s@%s>", id, host);

    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

    text_appends(t, "From: ");
    text_appends(t, st->from_header);
    text_appends(t, "\r\nTo: ");
    text_appends(t, to);
    text_appends(t, "\r\nDate: ");
    text_appends(t, date);
    text_appends(t, "\r\nMessage-ID: ");
    text_appends(t, message_id);
    text_appends(t, "\r\nX-WaveCom-Notification-Id: ");
    text_appends(t, id);
    text_appends(t, "\r\n");
    append_unsubscribe(t, st, tenant, to);
    append_subject(t, subject != NULL ? subject : "");
    append_body(t, id, body, html);
    return t->overflow ? -1 : 0;
}

/* Renders the job's document into an item for the pool, copying everything
 * the sender thread needs: it never sees the job or its document. Returns
 * NULL with `result` set when the email cannot be sent. */
static smtp_item_t *render(const smtp_state_t *st, provider_job_t *job, delivery_result_t *result)
{
    const bson_t *doc = job->doc;
    char id[25] = "";
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) {
        bson_oid_to_string(bson_iter_oid(&iter), id);
    }
    const char *to = wc_doc_string(doc, "recipient");
    const char *subject = wc_doc_string(doc, "subject");
    const char *body = wc_doc_string(doc, "message");
    const char *html = wc_doc_string(doc, "html");
    if (to == NULL || body == NULL || !wc_email_address_valid(to)) {
        provider_fail(result, DELIVERY_PERMANENT, "document lacks a valid recipient or message");
        return NULL;
    }

    char *buf = malloc(MAX_EMAIL_BYTES);
    if (buf == NULL) {
        provider_fail(result, DELIVERY_TRANSIENT, "out of memory");
        return NULL;
    }
    text_t text = {.data = buf, .cap = MAX_EMAIL_BYTES};
    char message_id[320];
    if (build_message(st, id, wc_doc_string(doc, "tenantId"), to, subject, body, html,
                      message_id, sizeof(message_id),
                      &text) != 0) {
        provider_fail(result, DELIVERY_PERMANENT, "message too large to encode");
        free(buf);
        return NULL;
    }
    /* Up to twice the prefetch of emails may wait for a session: keep only
     * what each one needs. A failed shrink keeps the larger buffer. */
    char *fitted = realloc(buf, text.len + 1);
    if (fitted != NULL) {
        buf = fitted;
    }
    smtp_item_t *item = smtp_item_new(buf, to, message_id, job);
    if (item == NULL) {
        provider_fail(result, DELIVERY_TRANSIENT, "out of memory");
        free(buf);
    }
    return item;
}

/* Hands the email to the sender threads; it is reported from smtp_on_ready
 * once its session has ended. */
static void smtp_start(provider_t *self, provider_job_t *job)
{
    smtp_state_t *st = self->state;
    delivery_result_t result;
    memset(&result, 0, sizeof(result));
    smtp_item_t *item = render(st, job, &result);
    if (item == NULL) {
        provider_job_complete(job, &result);
        return;
    }
    if (smtp_pool_submit(st->pool, item) != 0) {
        smtp_item_free(item);
        provider_job_fail(job, DELIVERY_TRANSIENT, "the SMTP senders are stopping");
    }
}

static int smtp_ready_fd(provider_t *self)
{
    const smtp_state_t *st = self->state;
    return smtp_pool_fd(st->pool);
}

/* Reports every email whose session has ended, on the loop thread. */
static void smtp_on_ready(provider_t *self)
{
    smtp_state_t *st = self->state;
    smtp_item_t *item = smtp_pool_take_done(st->pool);
    while (item != NULL) {
        smtp_item_t *next = item->next;
        provider_job_complete(item->owner, &item->result);
        smtp_item_free(item);
        item = next;
    }
}

static void smtp_free(void *state)
{
    smtp_state_t *st = state;
    smtp_pool_free(st->pool);
    free(st);
    /* After the senders are joined: it unloads the SASL plugins they used. */
    auth_client_exit();
}

/* "Name <addr@host>" -> "addr@host"; a bare address is kept as it is. */
static int extract_address(const char *from, char *out, size_t out_len)
{
    const char *lt = strchr(from, '<');
    const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
    const char *start = lt != NULL ? lt + 1 : from;
    size_t n = gt != NULL ? (size_t)(gt - start) : strlen(start);
    if (lt != NULL && gt == NULL) {
        return -1;
    }
    if (n == 0 || n >= out_len) {
        return -1;
    }
    memcpy(out, start, n);
    out[n] = '\0';
    return wc_email_address_valid(out) ? 0 : -1;
}

/* The pool's options from the configuration, for the relay at host:port.
 * Returns -1, after logging which variable is wrong, when the sender address
 * is not an address. */
static int pool_options(const wc_config_t *cfg, const char *host, int port, smtp_state_t *st,
                        smtp_pool_options_t *o)
{
    if (extract_address(cfg->smtp_from, st->from_address, sizeof(st->from_address)) != 0 ||
        strpbrk(cfg->smtp_from, "\r\n") != NULL) {
        wc_log_error("WAVECOM_SMTP_FROM: \"%s\" is not an address or \"Name <address>\"",
                     cfg->smtp_from);
        return -1;
    }
    snprintf(st->from_header, sizeof(st->from_header), "%s", cfg->smtp_from);
    snprintf(st->unsubscribe_base, sizeof(st->unsubscribe_base), "%s", cfg->public_base_url);
    snprintf(st->unsubscribe_secret, sizeof(st->unsubscribe_secret), "%s",
             cfg->unsubscribe_secret);
    st->unsubscribe_ttl_seconds = cfg->unsubscribe_ttl_seconds;
    memset(o, 0, sizeof(*o));
    snprintf(o->envelope_from, sizeof(o->envelope_from), "%s", st->from_address);
    snprintf(o->server, sizeof(o->server), "%s:%d", host, port);
    snprintf(o->user, sizeof(o->user), "%s", cfg->smtp_user);
    snprintf(o->password, sizeof(o->password), "%s", cfg->smtp_password);
    o->timeout_seconds = cfg->smtp_timeout_seconds;
    o->sessions = cfg->smtp_sessions;
    o->starttls = strcmp(cfg->smtp_starttls, "required") == 0 ? Starttls_REQUIRED
                  : strcmp(cfg->smtp_starttls, "try") == 0    ? Starttls_ENABLED
                                                              : Starttls_DISABLED;
    return 0;
}

static provider_t *smtp_new(const provider_env_t *env, const char *name, const char *host,
                            int port)
{
    smtp_state_t *st = calloc(1, sizeof(*st));
    provider_t *p = calloc(1, sizeof(*p));
    smtp_pool_options_t opts;
    if (st == NULL || p == NULL || pool_options(env->cfg, host, port, st, &opts) != 0) {
        goto fail;
    }
    /* Before any sender thread may ask for a SASL mechanism. */
    auth_client_init();
    st->pool = smtp_pool_start(&opts);
    if (st->pool == NULL) {
        auth_client_exit();
        goto fail;
    }
    p->name = name;
    p->start = smtp_start;
    p->ready_fd = smtp_ready_fd;
    p->on_ready = smtp_on_ready;
    p->free_state = smtp_free;
    p->state = st;
    return p;

fail:
    free(st);
    free(p);
    return NULL;
}

provider_t *provider_smtp_new(const provider_env_t *env)
{
    return smtp_new(env, "smtp", env->cfg->smtp_host, env->cfg->smtp_port);
}

provider_t *provider_smtp2_new(const provider_env_t *env)
{
    if (env->cfg->smtp2_host[0] == '\0') {
        return NULL; /* no second relay configured */
    }
    return smtp_new(env, "smtp2", env->cfg->smtp2_host, env->cfg->smtp2_port);
}
