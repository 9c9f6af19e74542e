#include "wc_sms_segments.h"

#include <stdbool.h>
#include <stdint.h>

#define GSM7_SINGLE 160
#define GSM7_PART 153
#define UCS2_SINGLE 70
#define UCS2_PART 67

/* The GSM 03.38 basic alphabet outside printable ASCII, and the printable
 * ASCII it lacks. */
static const uint32_t gsm7_basic_extra[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8, 0x00C5,
    0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E,
    0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, '\n', '\r',
};
static const char gsm7_ascii_missing[] = "`";
/* The extension table: two septets each (escape + code). */
static const uint32_t gsm7_extension[] = {'^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC, '\f'};

static bool in_table(uint32_t cp, const uint32_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i] == cp) {
            return true;
        }
    }
    return false;
}

/* Septets `cp` takes in GSM-7: 1, 2, or 0 when the alphabet lacks it. */
static int gsm7_septets(uint32_t cp)
{
    if (in_table(cp, gsm7_extension, sizeof(gsm7_extension) / sizeof(gsm7_extension[0]))) {
        return 2;
    }
    if (cp >= 0x20 && cp < 0x7F) {
        for (const char *c = gsm7_ascii_missing; *c != '\0'; c++) {
            if ((uint32_t)*c == cp) {
                return 0;
            }
        }
        return 1;
    }
    return in_table(cp, gsm7_basic_extra, sizeof(gsm7_basic_extra) / sizeof(gsm7_basic_extra[0]))
               ? 1
               : 0;
}

/* Decodes the code point at text[*i], advancing *i; -1 on invalid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
static int next_code_point(const unsigned char *text, size_t len, size_t *i, uint32_t *cp)
{
    unsigned char c = text[*i];
    size_t n;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        *i += 1;
        return 0;
    } else if ((c & 0xE0) == 0xC0) {
        n = 1, min = 0x80, *cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, min = 0x800, *cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, min = 0x10000, *cp = c & 0x07;
    } else {
        return -1;
    }
    if (len - *i <= n) {
        return -1;
    }
    for (size_t k = 1; k <= n; k++) {
        unsigned char cont = text[*i + k];
        if ((cont & 0xC0) != 0x80) {
            return -1;
        }
        *cp = (*cp << 6) | (cont & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
        return -1;
    }
    *i += n + 1;
    return 0;
}

/* Segments for characters of the sizes given, filled in order. */
static size_t segments_of(const unsigned char *text, size_t len, bool gsm7, size_t total)
{
    size_t single = gsm7 ? GSM7_SINGLE : UCS2_SINGLE;
    size_t part = gsm7 ? GSM7_PART : UCS2_PART;
    if (total <= single) {
        return 1;
    }
    size_t segments = 1, used = 0, i = 0;
    uint32_t cp;
    while (i < len && next_code_point(text, len, &i, &cp) == 0) {
        size_t size = gsm7 ? (size_t)gsm7_septets(cp) : (cp > 0xFFFF ? 2 : 1);
        if (used + size > part) {
            segments++;
            used = 0;
        }
        used += size;
    }
    return segments;
}

int wc_sms_count(const char *text, size_t len, wc_sms_count_t *out)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t septets = 0, utf16 = 0, i = 0;
    bool gsm7 = true;
    while (i < len) {
        uint32_t cp;
        if (next_code_point(bytes, len, &i, &cp) != 0) {
            return -1;
        }
        int s = gsm7_septets(cp);
        gsm7 = gsm7 && s > 0;
        septets += (size_t)s;
        utf16 += cp > 0xFFFF ? 2 : 1;
    }
    out->encoding = gsm7 ? WC_SMS_GSM7 : WC_SMS_UCS2;
    out->units = gsm7 ? septets : utf16;
    out->segments = segments_of(bytes, len, gsm7, out->units);
    return 0;
}

const char *wc_sms_encoding_name(wc_sms_encoding_t encoding)
{
    return encoding == WC_SMS_GSM7 ? "GSM-7" : "UCS-2";
}
