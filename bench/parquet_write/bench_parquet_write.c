/* bench_parquet_write.c - Parquet writer throughput on a FHIR-Observation-like table.
 * Generates N rows deterministically (ids, references with repetition, codes, dates,
 * timestamps, decimals, doubles, nullable notes, a list of category codes) into memory,
 * then times fl_pq_writer_write_batch + finish for each codec. With --csv it writes the
 * same rows as CSV (lists joined with '|') so pyarrow and DuckDB can load them untimed.
 * Output: one JSON line per codec (rows/s, MB/s of CSV-equivalent input, file bytes). */
#include "fhirlake/os.h"
#include "fhirlake/parquet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct table {
    size_t n;
    fl_str *id, *subject, *status, *code, *unit, *note, *cats;
    uint8_t *note_valid;
    int64_t *effective, *value_dec, *cat_off, *count;
    int32_t *issued;
    double *value;
    size_t ncats;
    char *pool;
    size_t pool_len, csv_bytes;
} table;

static uint64_t rng_state = 42;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *const statuses[] = {"final", "amended", "preliminary", "corrected"};
static const char *const units[] = {"mg/dL", "mmol/L", "kg", "cm", "%", "bpm", "mm[Hg]", "10*3/uL"};
static const char *const cat_codes[] = {"vital-signs", "laboratory", "survey", "exam", "imaging", "social-history"};
static const char *const notes[] = {"patient fasting", "repeat measurement requested", "hemolyzed sample, result may be unreliable",
                                    "called physician", "value confirmed by second run"};

static char *pool_put(table *t, const char *s, size_t n)
{
    char *p = t->pool + t->pool_len;
    memcpy(p, s, n);
    t->pool_len += n;
    return p;
}

static int gen(table *t, size_t n)
{
    t->n = n;
    t->id = calloc(n, sizeof(fl_str));
    t->subject = calloc(n, sizeof(fl_str));
    t->status = calloc(n, sizeof(fl_str));
    t->code = calloc(n, sizeof(fl_str));
    t->unit = calloc(n, sizeof(fl_str));
    t->note = calloc(n, sizeof(fl_str));
    t->note_valid = calloc(n, 1);
    t->cats = calloc(2 * n, sizeof(fl_str));
    t->cat_off = calloc(n + 1, sizeof(int64_t));
    t->effective = calloc(n, sizeof(int64_t));
    t->value_dec = calloc(n, sizeof(int64_t));
    t->count = calloc(n, sizeof(int64_t));
    t->issued = calloc(n, sizeof(int32_t));
    t->value = calloc(n, sizeof(double));
    t->pool = malloc(n * 80);
    if (!t->id || !t->subject || !t->status || !t->code || !t->unit || !t->note || !t->note_valid || !t->cats ||
        !t->cat_off || !t->effective || !t->value_dec || !t->count || !t->issued || !t->value || !t->pool)
        return -1;
    char buf[64];
    size_t csv = 0;
    for (size_t i = 0; i < n; i++) {
        /* one rnd() per statement: argument evaluation order differs between compilers */
        uint64_t r = rnd();
        uint64_t r2 = rnd();
        uint64_t r3 = rnd();
        int len = snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(r >> 32), (unsigned)(r & 0xffff),
                           (unsigned)((r >> 16) & 0xfff), (unsigned)(r2 & 0xffff), (unsigned long long)(r3 & 0xffffffffffffull));
        t->id[i] = fl_str_make(pool_put(t, buf, (size_t)len), (size_t)len);
        len = snprintf(buf, sizeof buf, "Patient/%llu", (unsigned long long)(rnd() % 100000));
        t->subject[i] = fl_str_make(pool_put(t, buf, (size_t)len), (size_t)len);
        uint64_t st = rnd() % 100;
        t->status[i] = fl_str_c(statuses[st < 90 ? 0 : rnd() % 4]);
        uint64_t c1 = 1000 + rnd() % 300;
        uint64_t c2 = rnd() % 10;
        len = snprintf(buf, sizeof buf, "%llu-%llu", (unsigned long long)c1, (unsigned long long)c2);
        t->code[i] = fl_str_make(pool_put(t, buf, (size_t)len), (size_t)len);
        t->unit[i] = fl_str_c(units[rnd() % 8]);
        t->note_valid[i] = rnd() % 10 == 0;
        if (t->note_valid[i]) t->note[i] = fl_str_c(notes[rnd() % 5]);
        else t->note[i] = fl_str_make("", 0);
        t->effective[i] = 1577836800000000LL + (int64_t)(rnd() % 157680000000000ull); /* 2020..2025 */
        int32_t lag = (int32_t)(rnd() % 3);
        t->issued[i] = (int32_t)(t->effective[i] / 86400000000LL) + lag;
        t->value_dec[i] = (int64_t)(rnd() % 100000000); /* DECIMAL(18,4): 0..9999.9999 */
        t->value[i] = (double)t->value_dec[i] / 10000.0;
        t->count[i] = (int64_t)(rnd() % 1000);
        t->cat_off[i] = (int64_t)t->ncats;
        int nc = 1 + (int)(rnd() % 2);
        for (int k = 0; k < nc; k++) t->cats[t->ncats++] = fl_str_c(cat_codes[rnd() % 6]);
        /* CSV-equivalent bytes of this row (for MB/s): fields + separators + dates as text */
        csv += t->id[i].len + t->subject[i].len + t->status[i].len + t->code[i].len + t->unit[i].len + t->note[i].len;
        csv += 27 /* timestamp */ + 10 /* date */ + 9 /* decimal */ + 17 /* double */ + 3 /* count */;
        for (int k = 0; k < nc; k++) csv += t->cats[t->ncats - 1 - (size_t)k].len + 1;
        csv += 12; /* separators and newline */
    }
    t->cat_off[n] = (int64_t)t->ncats;
    t->csv_bytes = csv;
    return 0;
}

static int write_csv(const table *t, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "id,subject,status,code,unit,note,effective_us,issued_days,value_dec,value,count,category\n");
    for (size_t i = 0; i < t->n; i++) {
        fprintf(f, "%.*s,%.*s,%.*s,%.*s,%.*s,", (int)t->id[i].len, t->id[i].ptr, (int)t->subject[i].len, t->subject[i].ptr,
                (int)t->status[i].len, t->status[i].ptr, (int)t->code[i].len, t->code[i].ptr, (int)t->unit[i].len,
                t->unit[i].ptr);
        if (t->note_valid[i]) fprintf(f, "\"%.*s\"", (int)t->note[i].len, t->note[i].ptr);
        fprintf(f, ",%" PRId64 ",%d,%" PRId64 ",%.17g,%" PRId64 ",", t->effective[i], t->issued[i], t->value_dec[i],
                t->value[i], t->count[i]);
        for (int64_t k = t->cat_off[i]; k < t->cat_off[i + 1]; k++)
            fprintf(f, "%s%.*s", k > t->cat_off[i] ? "|" : "", (int)t->cats[k].len, t->cats[k].ptr);
        fputc('\n', f);
    }
    return fclose(f);
}

static fl_pq_schema *schema(void)
{
    fl_pq_schema *s;
    if (fl_pq_schema_new(&s, NULL)) return NULL;
    fl_pq_type str = fl_pq_t_string();
    fl_pq_schema_add(s, 0, "id", FL_PQ_REQUIRED, str);
    fl_pq_schema_add(s, 0, "subject", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, 0, "status", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, 0, "code", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, 0, "unit", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, 0, "note", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, 0, "effective", FL_PQ_OPTIONAL, fl_pq_t_timestamp_us(true));
    fl_pq_schema_add(s, 0, "issued", FL_PQ_OPTIONAL, fl_pq_t_date());
    fl_pq_schema_add(s, 0, "value_dec", FL_PQ_OPTIONAL, fl_pq_t_decimal(18, 4));
    fl_pq_schema_add(s, 0, "value", FL_PQ_OPTIONAL, fl_pq_t_double());
    fl_pq_schema_add(s, 0, "count", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add_list(s, 0, "category", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    return s;
}

static int run(const table *t, fl_pq_codec codec, const char *name, const char *path, int level)
{
    fl_pq_schema *s = schema();
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    o.codec = codec;
    o.codec_level = level;
    FILE *f = fopen(path, "wb");
    if (!s || !f) return 1;
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    fl_err err;
    fl_pq_writer *w;
    uint64_t t0 = fl_clock_mono_ns();
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    if (fl_pq_writer_new(s, &o, fl_pq_sink_stdio, f, &w, &err)) {
        fprintf(stderr, "writer: %s\n", err.msg);
        return 1;
    }
    const size_t B = 65536;
    for (size_t r0 = 0; r0 < t->n; r0 += B) {
        size_t nr = t->n - r0 < B ? t->n - r0 : B;
        fl_pq_colvec c[12];
        memset(c, 0, sizeof c);
        c[0].values = t->id + r0;
        c[1].values = t->subject + r0;
        c[2].values = t->status + r0;
        c[3].values = t->code + r0;
        c[4].values = t->unit + r0;
        c[5].values = t->note + r0;
        c[5].valid = t->note_valid + r0;
        c[6].values = t->effective + r0;
        c[7].values = t->issued + r0;
        c[8].values = t->value_dec + r0;
        c[9].values = t->value + r0;
        c[10].values = t->count + r0;
        c[11].values = t->cats;
        c[11].offsets = t->cat_off + r0;
        if (fl_pq_writer_write_batch(w, c, 12, nr)) {
            fprintf(stderr, "write: %s\n", fl_pq_writer_err(w)->msg);
            return 1;
        }
    }
    if (fl_pq_writer_finish(w, &err)) {
        fprintf(stderr, "finish: %s\n", err.msg);
        return 1;
    }
    fflush(f);
    double secs = (double)(fl_clock_mono_ns() - t0) / 1e9;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    uint64_t bytes = fl_pq_writer_bytes_written(w);
    fclose(f);
    printf("{\"tool\":\"fhirlake\",\"codec\":\"%s\",\"rows\":%zu,\"wall_s\":%.3f,\"cpu_s\":%.3f,\"rows_per_s\":%.0f,"
           "\"mb_per_s\":%.1f,\"file_bytes\":%llu,\"csv_bytes\":%zu}\n",
           name, t->n, secs, cpu, (double)t->n / cpu, (double)t->csv_bytes / cpu / 1e6, (unsigned long long)bytes,
           t->csv_bytes);
    fl_pq_writer_free(w);
    fl_pq_schema_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 2000000;
    const char *csv = NULL, *dir = "/tmp";
    const char *codecs = "snappy,zstd";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) n = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--codecs") && i + 1 < argc) codecs = argv[++i];
        else {
            fprintf(stderr, "usage: bench_parquet_write [--rows N] [--csv FILE] [--dir DIR] [--codecs snappy,zstd,...]\n");
            return 2;
        }
    }
    table t;
    memset(&t, 0, sizeof t);
    if (gen(&t, n)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (csv) return write_csv(&t, csv) ? 1 : 0;
    char path[1024];
    static const struct {
        const char *name;
        fl_pq_codec c;
        int level;
    } all[] = {{"none", FL_PQ_UNCOMPRESSED, 0}, {"snappy", FL_PQ_SNAPPY, 0}, {"zstd", FL_PQ_ZSTD, 3}, {"lz4_raw", FL_PQ_LZ4_RAW, 0},
               {"gzip", FL_PQ_GZIP, 6}};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        if (!strstr(codecs, all[k].name)) continue;
        snprintf(path, sizeof path, "%s/fhirlake_%s.parquet", dir, all[k].name);
        if (run(&t, all[k].c, all[k].name, path, all[k].level)) return 1;
    }
    return 0;
}
