/* bench_s3.c - upload/download throughput of the S3 driver through the public store API.
 * Writes FILES objects of SIZE_MB each with the streaming writer (multipart, s3.partSize)
 * using THREADS threads over one fl_store, then reads them back with fl_store_get and
 * checks the bytes. Server from S3_ENDPOINT / S3_BUCKET / AWS_* (bench/s3/run.sh starts
 * one with tools/s3server.sh). Prints one line per direction with MB/s (1 MB = 10^6 B).
 *   bench_s3 FILES SIZE_MB THREADS [PART_MB] [unsigned] */
#include "fhirlake/os.h"
#include "fhirlake/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    fl_store *st;
    int files, threads, id;
    size_t size;
    const char *src;
    const char *prefix;
    int bad;
    char msg[512];
} job;

static void *up(void *p)
{
    job *j = p;
    fl_err err;
    char key[128];
    for (int f = j->id; f < j->files; f += j->threads) {
        snprintf(key, sizeof key, "%s/file-%04d.bin", j->prefix, f);
        fl_store_writer *w = NULL;
        if (fl_store_writer_open(j->st, fl_str_c(key), 0, &w, &err) != FL_OK) goto fail;
        for (size_t off = 0; off < j->size; off += 1u << 20) {
            size_t n = j->size - off < (1u << 20) ? j->size - off : (1u << 20);
            if (fl_store_writer_write(w, j->src + ((size_t)f * 4096 + off) % (16u << 20), n, &err) != FL_OK) {
                fl_store_writer_abort(w);
                goto fail;
            }
        }
        if (fl_store_writer_commit(w, NULL, &err) != FL_OK) goto fail;
        continue;
    fail:
        j->bad++;
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
    }
    return NULL;
}

static void *down(void *p)
{
    job *j = p;
    fl_err err;
    char key[128];
    fl_buf b;
    fl_buf_init(&b, 0);
    for (int f = j->id; f < j->files; f += j->threads) {
        snprintf(key, sizeof key, "%s/file-%04d.bin", j->prefix, f);
        fl_buf_clear(&b);
        if (fl_store_get(j->st, fl_str_c(key), &b, NULL, &err) != FL_OK || b.len != j->size) {
            j->bad++;
            snprintf(j->msg, sizeof j->msg, "%s", err.msg);
            continue;
        }
        for (size_t off = 0; off < j->size; off += 1u << 20) { /* verify */
            size_t n = j->size - off < (1u << 20) ? j->size - off : (1u << 20);
            if (memcmp(b.ptr + off, j->src + ((size_t)f * 4096 + off) % (16u << 20), n) != 0) {
                j->bad++;
                snprintf(j->msg, sizeof j->msg, "%s: bytes differ at %zu", key, off);
                break;
            }
        }
    }
    fl_buf_reset(&b);
    return NULL;
}

static double run(void *(*fn)(void *), job *proto, int threads)
{
    pthread_t th[64];
    job jobs[64];
    uint64_t t0 = fl_clock_mono_ns();
    for (int i = 0; i < threads; i++) {
        jobs[i] = *proto;
        jobs[i].id = i;
        pthread_create(&th[i], NULL, fn, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].bad) {
            proto->bad += jobs[i].bad;
            snprintf(proto->msg, sizeof proto->msg, "%s", jobs[i].msg);
        }
    }
    return (double)(fl_clock_mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_s3 FILES SIZE_MB THREADS [PART_MB] [unsigned]\n");
        return 2;
    }
    int files = atoi(argv[1]), threads = atoi(argv[3]);
    size_t size = (size_t)atoi(argv[2]) << 20;
    const char *part = argc > 4 ? argv[4] : "8";
    bool unsig = argc > 5 && !strcmp(argv[5], "unsigned");
    const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
    if (!ep || !bucket || files < 1 || threads < 1 || threads > 64 || size == 0) {
        fprintf(stderr, "bench_s3: need S3_ENDPOINT, S3_BUCKET and sane arguments\n");
        return 2;
    }
    char partb[32], url[256], prefix[64];
    snprintf(partb, sizeof partb, "%zu", (size_t)atoi(part) << 20);
    snprintf(prefix, sizeof prefix, "bench-%llx", (unsigned long long)fl_random_u64());
    snprintf(url, sizeof url, "s3://%s", bucket);
    fl_store_prop props[] = {
        {"s3.endpoint", ep}, {"s3.partSize", partb}, {"s3.unsignedPayload", unsig ? "true" : "false"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = props;
    o.nprops = 3;
    fl_store *st = NULL;
    fl_err err;
    if (fl_store_open(url, &o, &st, &err) != FL_OK) {
        fprintf(stderr, "bench_s3: %s\n", err.msg);
        return 1;
    }
    size_t srclen = (16u << 20) + size + (size_t)files * 4096;
    char *src = malloc(srclen);
    if (!src) return 1;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < srclen; i++) { /* incompressible */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        src[i] = (char)x;
    }
    job proto = {.st = st, .files = files, .threads = threads, .size = size, .src = src, .prefix = prefix};
    double mb = (double)size * files / 1e6;
    double tu = run(up, &proto, threads);
    if (proto.bad) fprintf(stderr, "bench_s3: %d upload failures: %s\n", proto.bad, proto.msg);
    double td = run(down, &proto, threads);
    if (proto.bad) fprintf(stderr, "bench_s3: %d failures: %s\n", proto.bad, proto.msg);
    printf("fhirlake upload   %d x %zu MB, %d threads, part %s MB%s: %.2f s, %.1f MB/s\n", files, size >> 20,
           threads, part, unsig ? ", unsigned payload" : "", tu, mb / tu);
    printf("fhirlake download %d x %zu MB, %d threads: %.2f s, %.1f MB/s\n", files, size >> 20, threads, td,
           mb / td);
    /* clean up */
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n = 0;
    if (fl_store_list_all(st, fl_str_c(prefix), FL_STR_NULL, 0, 100000, &a, &es, &n, &err) == FL_OK && n) {
        fl_str *keys = calloc(n, sizeof *keys);
        for (size_t i = 0; i < n; i++)
            keys[i] = es[i].key;
        fl_store_delete(st, keys, n, &err);
        free(keys);
    }
    fl_arena_fini(&a);
    fl_store_close(st);
    free(src);
    return proto.bad ? 1 : 0;
}
