/*
 * libFuzzer harness: a template and its data, as a notification naming a
 * template has them rendered — the Mustache wrapper's own name resolution,
 * missing-name bookkeeping and output bound over the library, in both modes,
 * and the SMS segment count of what comes out. The input is a template (up to
 * the API's 8 KiB per part), a NUL byte, then the data as JSON. Any crash,
 * leak or undefined behaviour is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_mustache.h"
#include "wc_sms_segments.h"

#define PART_MAX 8192
#define OUT_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t tmpl_len = nul != NULL ? (size_t)(nul - data) : size;
    if (tmpl_len > PART_MAX) {
        return 0;
    }
    char *tmpl = malloc(tmpl_len + 1);
    if (tmpl == NULL) {
        return 0;
    }
    memcpy(tmpl, data, tmpl_len);
    tmpl[tmpl_len] = '\0';
    json_object *json = NULL;
    if (nul != NULL) {
        const char *why = NULL;
        json = wc_json_parse_strict((const char *)nul + 1, size - tmpl_len - 1, &why);
    }
    char why[128];
    (void)wc_mustache_check(tmpl, why, sizeof(why));
    for (int mode = WC_MUSTACHE_TEXT; mode <= WC_MUSTACHE_HTML; mode++) {
        char *out = NULL;
        wc_mustache_missing_t missing;
        wc_mustache_status_t status = wc_mustache_render(
            tmpl, json_object_is_type(json, json_type_object) ? json : NULL,
            (wc_mustache_mode_t)mode, OUT_MAX, &out, &missing, why, sizeof(why));
        if ((status == WC_MUSTACHE_OK || status == WC_MUSTACHE_MISSING) != (out != NULL)) {
            abort(); /* the contract: a rendering exactly on OK and MISSING */
        }
        if (status == WC_MUSTACHE_MISSING && missing.count == 0) {
            abort();
        }
        if (out != NULL) {
            if (strlen(out) > OUT_MAX) {
                abort();
            }
            wc_sms_count_t count;
            (void)wc_sms_count(out, strlen(out), &count);
            free(out);
        }
    }
    json_object_put(json);
    free(tmpl);
    return 0;
}
