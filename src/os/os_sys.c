/* os_sys.c - clocks, sleep, randomness, UUIDv4, CPU count (module os). */
#define _GNU_SOURCE
#include "fhirlake/os.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t fl_clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t fl_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fl_sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

size_t fl_time_format_rfc3339(int64_t us, char *out, size_t cap)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(frac / 1000));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

fl_rc fl_random_bytes(void *out, size_t n, fl_err *err)
{
    char *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return fl_err_set(err, FL_E_IO, "getrandom failed: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
    return FL_OK;
}

uint64_t fl_random_u64(void)
{
    uint64_t v;
    if (fl_random_bytes(&v, sizeof v, NULL) == FL_OK) return v;
    static atomic_uint_fast64_t ctr = 0;
    uint64_t x = fl_clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&ctr, 0x9E3779B97F4A7C15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

void fl_uuid4(char out[37])
{
    unsigned char b[16];
    uint64_t r1 = fl_random_u64(), r2 = fl_random_u64();
    memcpy(b, &r1, 8);
    memcpy(b + 8, &r2, 8);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

unsigned fl_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}
