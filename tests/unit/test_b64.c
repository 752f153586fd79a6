/* base64url: RFC 4648 vectors, round trips, and strict rejection. */
#include <string.h>
#include "unit.h"
#include "acme_b64url.h"

static void test_rfc4648_vectors(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *plain, *encoded; } vectors[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); ++i) {
        unsigned char *data;
        apr_size_t len;
        assert_string_equal(acme_b64url_encode(p, (const unsigned char *)vectors[i].plain,
                                               strlen(vectors[i].plain)),
                            vectors[i].encoded);
        assert_int_equal(acme_b64url_decode(p, vectors[i].encoded, &data, &len), APR_SUCCESS);
        assert_int_equal(len, strlen(vectors[i].plain));
        assert_memory_equal(data, vectors[i].plain, len);
    }
}

static void test_url_alphabet(void **state)
{
    apr_pool_t *p = *state;
    const unsigned char bytes[] = { 0xfb, 0xff, 0xbf };
    unsigned char *data;
    apr_size_t len;

    /* Standard base64 would give "+/+/": the url alphabet swaps both. */
    assert_string_equal(acme_b64url_encode(p, bytes, sizeof(bytes)), "-_-_");
    assert_int_equal(acme_b64url_decode(p, "-_-_", &data, &len), APR_SUCCESS);
    assert_int_equal(len, 3);
    assert_memory_equal(data, bytes, 3);
    /* RFC 7515 appendix C example. */
    {
        const unsigned char c[] = { 3, 236, 255, 224, 193 };
        assert_string_equal(acme_b64url_encode(p, c, sizeof(c)), "A-z_4ME");
    }
}

static void test_round_trip_all_lengths(void **state)
{
    apr_pool_t *p = *state;
    unsigned char buf[300];
    size_t n, i;

    for (i = 0; i < sizeof(buf); ++i) {
        buf[i] = (unsigned char)(i * 37 + 11);
    }
    for (n = 0; n <= sizeof(buf); ++n) {
        const char *enc = acme_b64url_encode(p, buf, n);
        unsigned char *data;
        apr_size_t len;

        assert_null(strchr(enc, '='));
        assert_int_equal(acme_b64url_decode(p, enc, &data, &len), APR_SUCCESS);
        assert_int_equal(len, n);
        if (n) {
            assert_memory_equal(data, buf, n);
        }
    }
}

static void test_rejects(void **state)
{
    apr_pool_t *p = *state;
    static const char *bad[] = {
        "Zg==",       /* padding */
        "Zm8=",       /* padding */
        "Zm9v\n",     /* newline */
        "Zm 9v",      /* space */
        " Zm9v",      /* leading space */
        "Zm9v+w",     /* standard alphabet '+' */
        "Zm9v/w",     /* standard alphabet '/' */
        "Z",          /* one leftover char cannot hold a byte */
        "Zm9vY",      /* 5 chars: impossible length */
        "Zh",         /* non-zero trailing bits ("Zg" is canonical) */
        "Zm9",        /* non-zero trailing bits ("Zm8" is canonical) */
        "Zm9v\x80",   /* non-ASCII */
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        unsigned char *data = NULL;
        apr_size_t len = 0;
        if (acme_b64url_decode(p, bad[i], &data, &len) != APR_EINVAL) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    {
        unsigned char *data;
        apr_size_t len;
        assert_int_equal(acme_b64url_decode(p, NULL, &data, &len), APR_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_rfc4648_vectors),
        UNIT_TEST(test_url_alphabet),
        UNIT_TEST(test_round_trip_all_lengths),
        UNIT_TEST(test_rejects),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
