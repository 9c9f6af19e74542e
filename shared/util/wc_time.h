/* Wall-clock and monotonic time, and the ISO 8601 form the API speaks. */
#ifndef WC_TIME_H
#define WC_TIME_H

#include <stddef.h>
#include <stdint.h>

/* "2024-12-11T10:30:00.000Z" plus the terminating NUL. */
#define WC_ISO8601_LEN 25

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t wc_time_now_ms(void);

/* Milliseconds from an arbitrary fixed point (CLOCK_MONOTONIC); for durations. */
int64_t wc_time_monotonic_ms(void);

/* Writes `ms` as UTC ISO 8601 with milliseconds. Returns 0, or -1 if `len` is
 * too small or the time cannot be represented. */
int wc_time_format_iso8601(int64_t ms, char *buf, size_t len);

/* Parses an RFC 3339 date-time, "2024-12-11T10:30:00Z", with an optional
 * fraction of a second (digits past the millisecond are dropped) and either
 * "Z" or a "+hh:mm"/"-hh:mm" offset; years 1970 to 9999. Returns 0 with the
 * instant in *out_ms, or -1 for anything else (a missing offset included: a
 * time without a zone is ambiguous). */
int wc_time_parse_iso8601(const char *text, int64_t *out_ms);

#endif
