/*
 * EMAIL over SMTP with libesmtp: STARTTLS and AUTH as configured, a
 * Message-ID derived from the notification id (so a receiving system can
 * recognise the duplicate that at-least-once delivery may produce), UTF-8
 * subjects as RFC 2047 encoded words, and a base64 body that keeps every
 * line short whatever the client sent.
 */
#include <stddef.h> /* libesmtp.h uses size_t without including it */
#include <stdio.h>
#include <time.h>

#include <auth-client.h>
#include <libesmtp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider.h"
#include "wc_crypto.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_time.h"

typedef struct {
    char server[272];      /* host:port */
    char from_header[256]; /* as configured, e.g. "WaveCom <n@example.com>" */
    char from_address[256];
    enum starttls_option starttls;
    char user[256];
    char password[256];
    long timeout_seconds;
} smtp_state_t;

/* A message is at most 5,000 characters (20,000 bytes of UTF-8); base64 and
 * headers stay well inside this. */
#define MAX_EMAIL_BYTES 65536
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

static int build_message(const smtp_state_t *st, const char *id, const char *to,
                         const char *subject, const char *body, char *message_id,
                         size_t message_id_len, text_t *t)
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
    append_subject(t, subject != NULL ? subject : "");
    text_appends(t, "MIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=UTF-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n");
    append_body_base64(t, body);
    return t->overflow ? -1 : 0;
}

/* libesmtp asks for the credentials through this callback. */
static int auth_interact(auth_client_request_t request, char **result, int fields, void *arg)
{
    smtp_state_t *st = arg;
    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_USER) {
            result[i] = st->user;
        } else if (request[i].flags & AUTH_PASS) {
            result[i] = st->password;
        } else {
            return 0;
        }
    }
    return 1;
}

/* 5xx is permanent, anything else that is not 2xx may pass later. */
static delivery_outcome_t classify_code(int code)
{
    if (code >= 200 && code < 300) {
        return DELIVERY_OK;
    }
    return code >= 500 && code < 600 ? DELIVERY_PERMANENT : DELIVERY_TRANSIENT;
}

static void smtp_send(smtp_state_t *st, const bson_t *doc, delivery_result_t *result)
{
    result->outcome = DELIVERY_TRANSIENT;

    char id[25] = "";
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) {
        bson_oid_to_string(bson_iter_oid(&iter), id);
    }
    const char *to = wc_doc_string(doc, "recipient");
    const char *subject = wc_doc_string(doc, "subject");
    const char *body = wc_doc_string(doc, "message");
    if (to == NULL || body == NULL || !wc_email_address_valid(to)) {
        result->outcome = DELIVERY_PERMANENT;
        snprintf(result->detail, sizeof(result->detail), "document lacks a valid recipient or message");
        return;
    }

    char *buf = malloc(MAX_EMAIL_BYTES);
    if (buf == NULL) {
        snprintf(result->detail, sizeof(result->detail), "out of memory");
        return;
    }
    text_t text = {.data = buf, .cap = MAX_EMAIL_BYTES};
    char message_id[320];
    if (build_message(st, id, to, subject, body, message_id, sizeof(message_id), &text) != 0) {
        result->outcome = DELIVERY_PERMANENT;
        snprintf(result->detail, sizeof(result->detail), "message too large to encode");
        free(buf);
        return;
    }

    smtp_session_t session = smtp_create_session();
    auth_context_t auth = NULL;
    if (session == NULL) {
        snprintf(result->detail, sizeof(result->detail), "cannot create an SMTP session");
        free(buf);
        return;
    }
    smtp_set_server(session, st->server);
    long t = st->timeout_seconds * 1000;
    int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER, Timeout_DATA2};
    for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        smtp_set_timeout(session, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, t);
    }
    smtp_starttls_enable(session, st->starttls);
    if (st->user[0] != '\0') {
        auth = auth_create_context();
        auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(auth, auth_interact, st);
        smtp_auth_set_context(session, auth);
    }

    smtp_message_t message = smtp_add_message(session);
    smtp_set_reverse_path(message, st->from_address);
    smtp_recipient_t rcpt = smtp_add_recipient(message, to);
    smtp_set_message_str(message, buf);

    if (!smtp_start_session(session)) {
        char why[128];
        smtp_strerror(smtp_errno(), why, sizeof(why));
        snprintf(result->detail, sizeof(result->detail), "SMTP session to %s failed: %s",
                 st->server, why);
        goto out;
    }
    const smtp_status_t *rs = smtp_recipient_status(rcpt);
    const smtp_status_t *ms = smtp_message_transfer_status(message);
    if (rs != NULL && rs->code != 0 && classify_code(rs->code) != DELIVERY_OK) {
        result->outcome = classify_code(rs->code);
        snprintf(result->detail, sizeof(result->detail), "recipient refused: %d %s", rs->code,
                 rs->text != NULL ? rs->text : "");
        goto out;
    }
    if (ms == NULL || ms->code == 0) {
        snprintf(result->detail, sizeof(result->detail), "no answer to the message transfer");
        goto out;
    }
    result->outcome = classify_code(ms->code);
    snprintf(result->detail, sizeof(result->detail), "%d %s", ms->code,
             ms->text != NULL ? ms->text : "");
    /* Trailing CR/LF from the server's reply stay out of the trail. */
    result->detail[strcspn(result->detail, "\r\n")] = '\0';
    if (result->outcome == DELIVERY_OK) {
        snprintf(result->provider_message_id, sizeof(result->provider_message_id), "%s", message_id);
    }

out:
    smtp_destroy_session(session);
    if (auth != NULL) {
        auth_destroy_context(auth);
    }
    free(buf);
}

/* libesmtp is blocking: the session runs to its end here, bounded by the
 * per-command timeouts, and the outcome is reported before start returns. */
static void smtp_start(provider_t *self, delivery_job_t *job)
{
    delivery_result_t result;
    memset(&result, 0, sizeof(result));
    smtp_send(self->state, delivery_job_document(job), &result);
    delivery_job_complete(job, &result);
}

static void smtp_destroy(provider_t *self)
{
    if (self == NULL) {
        return;
    }
    free(self->state);
    free(self);
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

provider_t *provider_smtp_new(const provider_env_t *env)
{
    const wc_config_t *cfg = env->cfg;
    smtp_state_t *st = calloc(1, sizeof(*st));
    provider_t *p = calloc(1, sizeof(*p));
    if (st == NULL || p == NULL) {
        free(st);
        free(p);
        return NULL;
    }
    if (extract_address(cfg->smtp_from, st->from_address, sizeof(st->from_address)) != 0 ||
        strpbrk(cfg->smtp_from, "\r\n") != NULL) {
        wc_log_error("WAVECOM_SMTP_FROM: \"%s\" is not an address or \"Name <address>\"",
                     cfg->smtp_from);
        free(st);
        free(p);
        return NULL;
    }
    snprintf(st->from_header, sizeof(st->from_header), "%s", cfg->smtp_from);
    snprintf(st->server, sizeof(st->server), "%s:%d", cfg->smtp_host, cfg->smtp_port);
    snprintf(st->user, sizeof(st->user), "%s", cfg->smtp_user);
    snprintf(st->password, sizeof(st->password), "%s", cfg->smtp_password);
    st->timeout_seconds = cfg->smtp_timeout_seconds;
    st->starttls = strcmp(cfg->smtp_starttls, "required") == 0 ? Starttls_REQUIRED
                   : strcmp(cfg->smtp_starttls, "try") == 0    ? Starttls_ENABLED
                                                               : Starttls_DISABLED;
    auth_client_init();
    p->name = "smtp";
    p->start = smtp_start;
    p->destroy = smtp_destroy;
    p->state = st;
    return p;
}
