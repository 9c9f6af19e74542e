/* api/bucket_cache.c against a counter reader of its own that counts its
 * reads: a walk under an unchanged parent version reads nothing twice, a new
 * one reads again, a bucket without a document is remembered as absent, the
 * children of one parent are one read whatever instant inside it is asked,
 * a failed read is not kept, a full cache drops what was used longest ago,
 * and a list leaf's documents come back as kept, under its minute's version
 * and filters only. */
#include "unit_test.h"

#include <stdlib.h>
#include <string.h>

#include "bucket_cache.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define T0 (20000 * DAY)

typedef struct {
    int children_reads, bucket_reads;
    int fail_next;
    int64_t stamp; /* written into every bucket read, to tell reads apart */
} source_t;

static wc_store_status_t fake_children(void *arg, const char *owner, wc_counter_level_t level,
                                       int64_t ms, int64_t parent_version,
                                       wc_counter_bucket_t **out, size_t *n)
{
    source_t *s = arg;
    (void)owner;
    (void)parent_version;
    s->children_reads++;
    if (s->fail_next > 0) {
        s->fail_next--;
        return WC_STORE_ERROR;
    }
    *n = level == WC_COUNTER_HOUR ? 24 : 3;
    *out = calloc(*n, sizeof(**out));
    assert_non_null(*out);
    for (size_t i = 0; i < *n; i++) {
        (*out)[i].start_ms = ms + (int64_t)i;
        (*out)[i].counts[0][0][0] = s->stamp;
    }
    return WC_STORE_OK;
}

static wc_store_status_t fake_bucket(void *arg, const char *owner, wc_counter_level_t level,
                                     int64_t ms, int64_t parent_version, wc_counter_bucket_t *out,
                                     bool *found)
{
    source_t *s = arg;
    (void)level;
    (void)parent_version;
    s->bucket_reads++;
    *found = strcmp(owner, "absent") != 0;
    if (*found) {
        memset(out, 0, sizeof(*out));
        out->start_ms = ms;
        out->counts[0][0][0] = s->stamp;
    }
    return WC_STORE_OK;
}

typedef struct {
    source_t source;
    wc_counter_reader_t reader;
} fixture_t;

static void fixture(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->source.stamp = 1;
    f->reader = (wc_counter_reader_t){.children = fake_children, .bucket = fake_bucket,
                                      .arg = &f->source};
}

/* The stamp of the first of the hours of `ms`'s day, read through a walk with
 * the day at `version`. */
static int64_t hours_of(api_bucket_cache_t *c, fixture_t *f, const char *owner, int64_t ms,
                        int64_t version)
{
    api_bucket_walk_t walk;
    api_bucket_walk_init(&walk, c, &f->reader);
    wc_counter_bucket_t *b = NULL;
    size_t n = 0;
    assert_int_equal(walk.reader.children(walk.reader.arg, owner, WC_COUNTER_HOUR, ms, version,
                                          &b, &n),
                     WC_STORE_OK);
    assert_int_equal(n, 24);
    int64_t stamp = b[0].counts[0][0][0];
    free(b);
    return stamp;
}

static void an_unchanged_version_reads_nothing_twice(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    api_bucket_cache_t *c = api_bucket_cache_new(1 << 20, 60000);
    assert_int_equal(hours_of(c, &f, "t", T0, 5), 1);
    f.source.stamp = 2; /* the database moved on, and so did the version */
    assert_int_equal(hours_of(c, &f, "t", T0 + 5 * HOUR, 5), 1); /* same day: one scope */
    assert_int_equal(f.source.children_reads, 1);
    assert_int_equal(hours_of(c, &f, "t", T0, 6), 2);
    assert_int_equal(f.source.children_reads, 2);
    /* Another owner, another day: their own reads. */
    assert_int_equal(hours_of(c, &f, "u", T0, 6), 2);
    assert_int_equal(hours_of(c, &f, "t", T0 + DAY, 6), 2);
    assert_int_equal(f.source.children_reads, 4);
    size_t entries = 0, bytes = 0;
    api_bucket_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 3); /* the day read at version 5 gave way to version 6's */
    assert_true(bytes >= 3 * 24 * sizeof(wc_counter_bucket_t));
    api_bucket_cache_free(c);
}

static void a_bucket_by_id_is_kept_found_or_not(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    api_bucket_cache_t *c = api_bucket_cache_new(1 << 20, 60000);
    api_bucket_walk_t walk;
    api_bucket_walk_init(&walk, c, &f.reader);
    for (int i = 0; i < 3; i++) {
        wc_counter_bucket_t b;
        bool found = true;
        assert_int_equal(walk.reader.bucket(walk.reader.arg, "absent", WC_COUNTER_MINUTE,
                                            T0 + 1000 * i, 9, &b, &found),
                         WC_STORE_OK);
        assert_false(found);
        assert_int_equal(walk.reader.bucket(walk.reader.arg, "t", WC_COUNTER_MINUTE,
                                            T0 + 1000 * i, 9, &b, &found),
                         WC_STORE_OK);
        assert_true(found);
        assert_int_equal(b.start_ms, T0); /* the minute that holds the instant */
    }
    assert_int_equal(f.source.bucket_reads, 2);
    /* A parent version never kept: read every time. */
    wc_counter_bucket_t b;
    bool found = false;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(walk.reader.bucket(walk.reader.arg, "t", WC_COUNTER_MINUTE, T0, -1, &b,
                                            &found),
                         WC_STORE_OK);
    }
    assert_int_equal(f.source.bucket_reads, 4);
    api_bucket_cache_free(c);
}

static void a_failed_read_is_not_kept_and_no_cache_reads_through(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    api_bucket_cache_t *c = api_bucket_cache_new(1 << 20, 60000);
    api_bucket_walk_t walk;
    api_bucket_walk_init(&walk, c, &f.reader);
    wc_counter_bucket_t *b = NULL;
    size_t n = 0;
    f.source.fail_next = 1;
    assert_int_equal(walk.reader.children(walk.reader.arg, "t", WC_COUNTER_HOUR, T0, 1, &b, &n),
                     WC_STORE_ERROR);
    assert_int_equal(hours_of(c, &f, "t", T0, 1), 1);
    assert_int_equal(f.source.children_reads, 2);
    api_bucket_cache_free(c);
    hours_of(NULL, &f, "t", T0, 1);
    hours_of(NULL, &f, "t", T0, 1);
    assert_int_equal(f.source.children_reads, 4);
}

static void a_full_cache_drops_what_was_used_longest_ago(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    /* Room for two days of hours, and not three. */
    api_bucket_cache_t *c = api_bucket_cache_new(2 * 24 * sizeof(wc_counter_bucket_t) + 1024, 60000);
    hours_of(c, &f, "a", T0, 1);
    hours_of(c, &f, "b", T0, 1);
    hours_of(c, &f, "a", T0, 1); /* "a" used last */
    hours_of(c, &f, "c", T0, 1); /* drops "b" */
    assert_int_equal(f.source.children_reads, 3);
    hours_of(c, &f, "a", T0, 1);
    hours_of(c, &f, "c", T0, 1);
    assert_int_equal(f.source.children_reads, 3);
    hours_of(c, &f, "b", T0, 1);
    assert_int_equal(f.source.children_reads, 4);
    size_t entries = 0, bytes = 0;
    api_bucket_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 2);
    api_bucket_cache_free(c);
}

static void a_leaf_comes_back_as_kept_under_its_minute_version(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    api_bucket_cache_t *c = api_bucket_cache_new(1 << 20, 60000);
    api_bucket_walk_t walk;
    api_bucket_walk_init(&walk, c, &f.reader);
    bson_t *docs[3];
    for (int i = 0; i < 3; i++) {
        docs[i] = BCON_NEW("_id", BCON_INT32(i), "status", BCON_UTF8(i == 1 ? "FAILED" : "SENT"));
    }
    bson_t **got = NULL;
    size_t n = 0;
    assert_false(walk.reader.leaf_get(walk.reader.arg, "m|t:0|-1|-1|-1|", 4, &got, &n));
    walk.reader.leaf_keep(walk.reader.arg, "m|t:0|-1|-1|-1|", 4, (const bson_t *const *)docs, 3);
    assert_true(walk.reader.leaf_get(walk.reader.arg, "m|t:0|-1|-1|-1|", 4, &got, &n));
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(bson_equal(got[i], docs[i]));
    }
    wc_store_docs_free(got, n);
    /* Another version of the minute, or other filters: not kept. */
    assert_false(walk.reader.leaf_get(walk.reader.arg, "m|t:0|-1|-1|-1|", 5, &got, &n));
    assert_false(walk.reader.leaf_get(walk.reader.arg, "m|t:0|4|-1|-1|", 4, &got, &n));
    /* An empty leaf is kept as empty. */
    walk.reader.leaf_keep(walk.reader.arg, "s|t:1000|-1|-1|-1|", 4, NULL, 0);
    assert_true(walk.reader.leaf_get(walk.reader.arg, "s|t:1000|-1|-1|-1|", 4, &got, &n));
    assert_int_equal(n, 0);
    wc_store_docs_free(got, n);
    for (int i = 0; i < 3; i++) {
        bson_destroy(docs[i]);
    }
    api_bucket_cache_free(c);
}

UNIT_TEST_MAIN(cmocka_unit_test(an_unchanged_version_reads_nothing_twice),
               cmocka_unit_test(a_bucket_by_id_is_kept_found_or_not),
               cmocka_unit_test(a_failed_read_is_not_kept_and_no_cache_reads_through),
               cmocka_unit_test(a_full_cache_drops_what_was_used_longest_ago),
               cmocka_unit_test(a_leaf_comes_back_as_kept_under_its_minute_version))
