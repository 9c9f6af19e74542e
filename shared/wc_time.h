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

#endif
