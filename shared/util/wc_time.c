#include "wc_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

int64_t wc_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wc_time_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wc_time_format_iso8601(int64_t ms, char *buf, size_t len)
{
    /* Floor division keeps dates before 1970 correct. */
    int64_t secs = ms / 1000;
    int64_t millis = ms % 1000;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return -1;
    }
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* Reads exactly `n` decimal digits. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil); no time zone database involved. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int wc_time_parse_iso8601(const char *text, int64_t *out_ms)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (read_digits(&p, 4, &year) != 0 || *p++ != '-' || read_digits(&p, 2, &month) != 0 ||
        *p++ != '-' || read_digits(&p, 2, &day) != 0 || (*p != 'T' && *p != 't')) {
        return -1;
    }
    p++;
    if (read_digits(&p, 2, &hour) != 0 || *p++ != ':' || read_digits(&p, 2, &minute) != 0 ||
        *p++ != ':' || read_digits(&p, 2, &second) != 0) {
        return -1;
    }
    if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
        second > 59) {
        return -1;
    }
    int days_in_month = month_days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
    if (day > days_in_month) {
        return -1;
    }
    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (*p - '0');
            }
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9) {
            return -1;
        }
        for (int i = digits; i < 3; i++) {
            millis *= 10;
        }
    }
    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh, om;
        if (read_digits(&p, 2, &oh) != 0 || *p++ != ':' || read_digits(&p, 2, &om) != 0 ||
            oh > 23 || om > 59) {
            return -1;
        }
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                   (int64_t)offset_minutes * 60;
    *out_ms = secs * 1000 + millis;
    return 0;
}
