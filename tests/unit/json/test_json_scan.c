/* test_json_scan.c - the byte scanners of src/json/json_int.h against naive references.
 * This file forces the portable SWAR scanner (FL_JSON_NO_SIMD), which x86-64 builds never
 * use otherwise; the SSE2 scanner is covered by every other json test. Also checks the
 * one-sequence UTF-8 validator against base's fl_utf8_valid on random byte strings. */
#define FL_JSON_NO_SIMD 1
#include "json/json_int.h"
#include "testhelp.h"

static uint64_t seed = 88172645463325252ull;
static unsigned next_byte(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (unsigned)(seed >> 24) & 0xff;
}

static const char *ref_scan(const char *p, const char *end)
{
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
    }
    return end;
}

static void test_scan_plain(void)
{
    char buf[80];
    int mismatches = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = next_byte() % sizeof buf;
        /* mostly plain ASCII with one or two special bytes somewhere */
        for (size_t i = 0; i < n; i++) buf[i] = (char)(0x20 + next_byte() % 0x5f);
        int specials = (int)(next_byte() % 3);
        for (int s = 0; s < specials && n; s++) {
            static const unsigned char picks[] = {'"', '\\', 0x00, 0x1f, 0x0a, 0x80, 0xff, 0xc3, 0x7f, 0x20, 0x21};
            buf[next_byte() % n] = (char)picks[next_byte() % sizeof picks];
        }
        for (size_t off = 0; off <= n && off < 9; off++) { /* every alignment */
            if (json_scan_plain(buf + off, buf + n) != ref_scan(buf + off, buf + n)) mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    /* 0x7f (DEL) and ' ' are plain; every byte value classified like the reference */
    for (int c = 0; c < 256; c++) {
        char one[17];
        memset(one, 'a', sizeof one);
        one[13] = (char)c;
        CHECK(json_scan_plain(one, one + 17) == ref_scan(one, one + 17));
    }
}

static void test_utf8_seq(void)
{
    unsigned char buf[4];
    int mismatches = 0;
    for (int iter = 0; iter < 300000; iter++) {
        buf[0] = (unsigned char)(0x80 | next_byte());
        for (int i = 1; i < 4; i++) buf[i] = (unsigned char)(next_byte() % 3 ? 0x80 | (next_byte() & 0x3f) : next_byte());
        size_t avail = 1 + next_byte() % 4;
        size_t n = json_utf8_seq(buf, buf + avail);
        /* reference: the longest prefix of length 2..4 that fl_utf8_valid accepts as one character */
        size_t want = 0;
        for (size_t k = 2; k <= avail && k <= 4; k++) {
            size_t bad;
            if (fl_utf8_valid((const char *)buf, k, &bad)) {
                want = k;
                break;
            }
        }
        if (n != want) mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(json_utf8_seq((const unsigned char *)"\xF4\x8F\xBF\xBF", (const unsigned char *)"\xF4\x8F\xBF\xBF" + 4), 4);
    CHECK_EQ_INT(json_utf8_seq((const unsigned char *)"\xED\x9F\xBF", (const unsigned char *)"\xED\x9F\xBF" + 3), 3);
    CHECK_EQ_INT(json_utf8_seq((const unsigned char *)"\xED\xA0\x80", (const unsigned char *)"\xED\xA0\x80" + 3), 0);
}

int main(void)
{
    RUN(test_scan_plain);
    RUN(test_utf8_seq);
    return testhelp_done();
}
