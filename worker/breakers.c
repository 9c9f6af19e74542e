#include "breakers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wc_crypto.h"

worker_breakers_t *worker_breakers_map(void)
{
    void *mem = mmap(NULL, sizeof(worker_breakers_t), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem; /* anonymous maps start zeroed: all closed */
}

void worker_breakers_unmap(worker_breakers_t *breakers)
{
    if (breakers != NULL) {
        munmap(breakers, sizeof(*breakers));
    }
}

int worker_breaker_for_webhook(const char *url)
{
    char *host = NULL;
    CURLU *u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return BREAKER_WEBHOOK_FIRST;
    }
    char digest[WC_SHA256_HEX_LEN];
    wc_sha256_hex(host, strlen(host), digest);
    curl_free(host);
    curl_url_cleanup(u);
    unsigned long bucket = strtoul((char[9]){digest[0], digest[1], digest[2], digest[3], digest[4],
                                             digest[5], digest[6], digest[7], '\0'},
                                   NULL, 16);
    return BREAKER_WEBHOOK_FIRST + (int)(bucket % BREAKER_WEBHOOK_SLOTS);
}

void worker_breaker_name(int slot, char *out, size_t len)
{
    if (slot >= 0 && slot < BREAKER_WEBHOOK_FIRST) {
        snprintf(out, len, "%s", worker_providers[slot].name);
    } else {
        snprintf(out, len, "webhook:%d", slot - BREAKER_WEBHOOK_FIRST);
    }
}
