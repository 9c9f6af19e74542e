/*
 * How many SMS segments a text takes. A text every character of which is in
 * the GSM 03.38 alphabet goes as GSM-7: 160 septets in one message, 153 per
 * segment of a longer one (the rest holds the concatenation header), and the
 * characters of the extension table ({ } [ ] ~ \ | ^ € and form feed) take
 * two septets each. Any other character sends the whole text as UCS-2: 70
 * UTF-16 units in one message, 67 per segment, a character beyond the BMP
 * taking two. A segment never splits an extension character or a surrogate
 * pair, as handsets reassemble none of them across segments.
 */
#ifndef WC_SMS_SEGMENTS_H
#define WC_SMS_SEGMENTS_H

#include <stddef.h>

typedef enum { WC_SMS_GSM7, WC_SMS_UCS2 } wc_sms_encoding_t;

typedef struct {
    wc_sms_encoding_t encoding;
    size_t units;    /* septets for GSM-7, UTF-16 units for UCS-2 */
    size_t segments; /* at least 1: an empty text is still one message */
} wc_sms_count_t;

/* The most segments a rendered SMS may take (the API refuses more). */
#define WC_SMS_SEGMENTS_MAX 10

/* Counts `text` (UTF-8, `len` bytes). Returns 0, or -1 when it is not valid
 * UTF-8. */
int wc_sms_count(const char *text, size_t len, wc_sms_count_t *out);

/* "GSM-7" or "UCS-2". */
const char *wc_sms_encoding_name(wc_sms_encoding_t encoding);

#endif
