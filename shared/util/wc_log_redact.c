#include "wc_log_redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Opaque tokens this long (device tokens, JWTs, full hashes) are cut to a hint. */
#define LONG_TOKEN_CHARS 64

typedef struct {
    char *out;
    size_t len, cap;
} sink_t;

static void put(sink_t *s, const char *text, size_t n)
{
    for (size_t i = 0; i < n && s->len + 1 < s->cap; i++) {
        s->out[s->len++] = text[i];
    }
    s->out[s->len] = '\0';
}

static void puts_(sink_t *s, const char *text) { put(s, text, strlen(text)); }

static bool email_local_char(char c)
{
    return isalnum((unsigned char)c) || strchr("._%+-'", c) != NULL;
}

static bool host_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-'; }

/* Not '/': long file paths are not secrets. */
static bool token_char(char c) { return isalnum((unsigned char)c) || strchr("_:-.=+", c) != NULL; }

static size_t span(const char *p, bool (*ok)(char))
{
    size_t n = 0;
    while (p[n] != '\0' && ok(p[n])) {
        n++;
    }
    return n;
}

static bool b64_char(char c) { return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '='; }

static bool key_char(char c) { return isalnum((unsigned char)c); }

void wc_log_redact(const char *in, char *out, size_t out_len)
{
    if (out_len == 0) {
        return;
    }
    sink_t s = {.out = out, .len = 0, .cap = out_len};
    out[0] = '\0';
    const char *p = in;
    while (*p != '\0' && s.len + 1 < s.cap) {
        /* API keys and webhook secrets: the prefix says what leaked, nothing more. */
        if (strncmp(p, "wck_", 4) == 0) {
            puts_(&s, "wck_***");
            p += 4 + span(p + 4, key_char);
            continue;
        }
        if (strncmp(p, "whsec_", 6) == 0) {
            puts_(&s, "whsec_***");
            p += 6 + span(p + 6, b64_char);
            continue;
        }
        if (strncasecmp(p, "bearer ", 7) == 0) {
            put(&s, p, 7);
            puts_(&s, "***");
            p += 7;
            p += span(p, token_char);
            continue;
        }
        /* URLs keep their scheme and host: the path and query may hold a
         * client's secret (webhook URLs often do). */
        if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
            size_t scheme = p[4] == 's' ? 8 : 7;
            const char *host = p + scheme;
            size_t n = 0;
            while (host[n] != '\0' && host[n] != '/' && host[n] != '?' && host[n] != '#' &&
                   !isspace((unsigned char)host[n]) && host[n] != '"') {
                n++;
            }
            const char *at = memchr(host, '@', n); /* user:password@ goes too */
            put(&s, p, scheme);
            if (at != NULL) {
                puts_(&s, "***@");
                put(&s, at + 1, n - (size_t)(at + 1 - host));
            } else {
                put(&s, host, n);
            }
            p = host + n;
            size_t rest = 0;
            while (p[rest] != '\0' && !isspace((unsigned char)p[rest]) && p[rest] != '"' &&
                   p[rest] != '\'' && p[rest] != ')' && p[rest] != ',') {
                rest++;
            }
            if (rest > 0) {
                puts_(&s, "/***");
                p += rest;
            }
            continue;
        }
        /* E.164 numbers: + and 8 to 15 digits; the last four stay. */
        if (*p == '+' && isdigit((unsigned char)p[1])) {
            size_t digits = 0;
            while (isdigit((unsigned char)p[1 + digits])) {
                digits++;
            }
            if (digits >= 8) {
                puts_(&s, "+***");
                put(&s, p + 1 + digits - 4, 4);
                p += 1 + digits;
                continue;
            }
        }
        /* Email addresses: the first character of the local part, and the domain. */
        if (email_local_char(*p) && (p == in || !email_local_char(p[-1]))) {
            size_t local = span(p, email_local_char);
            if (local > 0 && p[local] == '@') {
                size_t domain = span(p + local + 1, host_char);
                if (domain > 0 && memchr(p + local + 1, '.', domain) != NULL) {
                    put(&s, p, 1);
                    puts_(&s, "***@");
                    put(&s, p + local + 1, domain);
                    p += local + 1 + domain;
                    continue;
                }
            }
        }
        /* Long opaque tokens: a hint of eight characters. */
        if (token_char(*p) && (p == in || !token_char(p[-1]))) {
            size_t n = span(p, token_char);
            if (n >= LONG_TOKEN_CHARS) {
                put(&s, p, 8);
                puts_(&s, "***");
                p += n;
                continue;
            }
        }
        put(&s, p, 1);
        p++;
    }
}
