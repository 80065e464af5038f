/* test_interop_files.c - writes the files the interop test (tests/run/parquet_interop.sh)
 * hands to pyarrow and DuckDB: every type x codec x dictionary on/off (flat_*), a FHIR-like
 * nested schema per codec (nested_*), random schemas (random_*) and the columnar batch
 * API (batch_*). Next to each file goes <name>.jsonl: the rows as fl_pq_format_row()
 * prints the *source* values, so peers are compared with what was meant, not with what
 * our reader says. As a unit test (no FL_PQ_OUT) it writes to a temp dir and reads every
 * file back with the fhirlake reader. */
#include "parquet/pq_testgen.h"
#include "testhelp.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char outdir[1024];

static const struct {
    fl_pq_codec c;
    const char *name;
} codecs[] = {{FL_PQ_UNCOMPRESSED, "none"}, {FL_PQ_SNAPPY, "snappy"}, {FL_PQ_GZIP, "gzip"},
              {FL_PQ_ZSTD, "zstd"}, {FL_PQ_LZ4_RAW, "lz4raw"}};

static fl_pq_schema *flat_schema(void)
{
    fl_pq_schema *s;
    fl_err err;
    if (fl_pq_schema_new(&s, &err)) return NULL;
    for (int opt = 0; opt < 2; opt++) {
        fl_pq_rep rep = opt ? FL_PQ_OPTIONAL : FL_PQ_REQUIRED;
        const char *sfx = opt ? "_opt" : "";
        char nm[64];
#define ADD(n, t)                                                                                  \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "%s%s", n, sfx);                                                   \
        fl_pq_schema_add(s, 0, nm, rep, t);                                                        \
    } while (0)
        ADD("bool", fl_pq_t_bool());
        ADD("i32", fl_pq_t_i32());
        ADD("i64", fl_pq_t_i64());
        ADD("f32", fl_pq_t_float());
        ADD("f64", fl_pq_t_double());
        ADD("str", fl_pq_t_string());
        ADD("bin", fl_pq_t_binary());
        ADD("fixed5", fl_pq_t_fixed(5));
        ADD("date", fl_pq_t_date());
        ADD("ts", fl_pq_t_timestamp_us(true));
        ADD("int8", fl_pq_t_int(8, true));
        ADD("int16", fl_pq_t_int(16, true));
        ADD("int32", fl_pq_t_int(32, true));
        ADD("int64", fl_pq_t_int(64, true));
        ADD("uint8", fl_pq_t_int(8, false));
        ADD("uint16", fl_pq_t_int(16, false));
        ADD("uint32", fl_pq_t_int(32, false));
        ADD("dec5_2", fl_pq_t_decimal(5, 2));
        ADD("dec15_3", fl_pq_t_decimal(15, 3));
        ADD("dec30_4", fl_pq_t_decimal(30, 4));
#undef ADD
    }
    return s;
}

static fl_pq_schema *nested_schema(void)
{
    fl_pq_schema *s;
    fl_err err;
    if (fl_pq_schema_new(&s, &err)) return NULL;
    fl_pq_type str = fl_pq_t_string(), i64 = fl_pq_t_i64(), i32 = fl_pq_t_i32(), dbl = fl_pq_t_double();
    fl_pq_schema_add(s, 0, "id", FL_PQ_REQUIRED, str);
    int name = fl_pq_schema_add_group(s, 0, "name", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, name, "family", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_list(s, name, "given", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    int cod = fl_pq_schema_add_list(s, 0, "coding", FL_PQ_OPTIONAL, FL_PQ_REQUIRED, NULL);
    fl_pq_schema_add(s, cod, "system", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, cod, "code", FL_PQ_REQUIRED, str);
    fl_pq_schema_add(s, cod, "weight", FL_PQ_OPTIONAL, dbl);
    fl_pq_schema_add_map(s, 0, "tags", FL_PQ_OPTIONAL, str, FL_PQ_OPTIONAL, &str);
    int mv = fl_pq_schema_add_map(s, 0, "counts", FL_PQ_REQUIRED, str, FL_PQ_OPTIONAL, NULL);
    fl_pq_schema_add(s, mv, "n", FL_PQ_REQUIRED, i64);
    fl_pq_schema_add_list(s, mv, "xs", FL_PQ_OPTIONAL, FL_PQ_REQUIRED, &dbl);
    int outer = fl_pq_schema_add_group(s, 0, "matrix", FL_PQ_OPTIONAL, FL_PQ_LT_LIST);
    int rl = fl_pq_schema_add_group(s, outer, "list", FL_PQ_REPEATED, FL_PQ_LT_NONE);
    fl_pq_schema_add_list(s, rl, "element", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &i32);
    int d1 = fl_pq_schema_add_group(s, 0, "deep", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    int d2 = fl_pq_schema_add_group(s, d1, "l2", FL_PQ_REQUIRED, FL_PQ_LT_NONE);
    int d3 = fl_pq_schema_add_group(s, d2, "l3", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    int d4 = fl_pq_schema_add_group(s, d3, "l4", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, d4, "leaf", FL_PQ_OPTIONAL, i64);
    fl_pq_schema_add_list(s, d4, "leaves", FL_PQ_REQUIRED, FL_PQ_OPTIONAL, &str);
    return s;
}

/* Write rows (random values from seed) to <outdir>/<name>.parquet and the .jsonl. */
static void write_file(const char *name, fl_pq_schema *s, const fl_pq_write_opts *o, uint64_t seed, int nrows)
{
    char path[1200];
    fl_err err;
    tg_rng r = {seed};
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    snprintf(path, sizeof path, "%s/%s.parquet", outdir, name);
    FILE *f = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s.jsonl", outdir, name);
    FILE *j = fopen(path, "wb");
    CHECK(f && j);
    if (!f || !j) return;
    fl_pq_writer *w = NULL;
    fl_rc rc = fl_pq_writer_new(s, o, fl_pq_sink_stdio, f, &w, &err);
    CHECK_MSG(rc == FL_OK, "%s: %s", name, err.msg);
    fl_pq_val **rows = fl_arena_calloc(&a, (size_t)nrows + 1, sizeof *rows);
    fl_buf b;
    fl_buf_init(&b, 0);
    for (int i = 0; i < nrows && w; i++) {
        rows[i] = tg_row(s, &r, &a);
        CHECK_MSG(tg_put_row(w, rows[i]) == FL_OK, "%s row %d: %s", name, i, fl_pq_writer_err(w)->msg);
        fl_buf_clear(&b);
        fl_pq_format_row(s, rows[i], &b);
        fprintf(j, "%s\n", b.ptr);
    }
    if (w) CHECK_MSG(fl_pq_writer_finish(w, &err) == FL_OK, "%s: %s", name, err.msg);
    fl_pq_writer_free(w);
    fclose(f);
    fclose(j);
    /* read back with our own reader */
    snprintf(path, sizeof path, "%s/%s.parquet", outdir, name);
    fl_pq_reader *rd;
    rc = fl_pq_reader_open_file(path, NULL, &rd, &err);
    CHECK_MSG(rc == FL_OK, "%s: %s", name, err.msg);
    if (rc == FL_OK) {
        fl_arena ra;
        fl_arena_init(&ra, 0, 0);
        for (int i = 0; i < nrows; i++) {
            fl_pq_val *got;
            rc = fl_pq_reader_next_row(rd, &ra, &got, &err);
            CHECK_MSG(rc == FL_OK && tg_equal(rows[i], got), "%s row %d differs (%s)", name, i, err.msg);
            if (rc) break;
            fl_arena_reset(&ra);
        }
        fl_arena_fini(&ra);
        fl_pq_reader_free(rd);
    }
    fl_buf_reset(&b);
    fl_arena_fini(&a);
}

static void test_flat(void)
{
    fl_pq_schema *s = flat_schema();
    CHECK(s && fl_pq_schema_check(s, NULL) == FL_OK);
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        for (int dict = 0; dict < 2; dict++) {
            fl_pq_write_opts o;
            fl_pq_write_opts_default(&o);
            o.codec = codecs[c].c;
            o.page_size = 2048;
            o.row_group_rows = 200;
            if (!dict) o.flags |= FL_PQ_W_NO_DICT;
            char name[64];
            snprintf(name, sizeof name, "flat_%s_%s", codecs[c].name, dict ? "dict" : "plain");
            write_file(name, s, &o, 1000 + c, 500);
        }
    }
    fl_pq_schema_free(s);
}

static void test_nested(void)
{
    fl_pq_schema *s = nested_schema();
    fl_err err;
    CHECK_MSG(s && fl_pq_schema_check(s, &err) == FL_OK, "%s", err.msg);
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        fl_pq_write_opts o;
        fl_pq_write_opts_default(&o);
        o.codec = codecs[c].c;
        o.page_size = 1024;
        o.row_group_rows = 150;
        char name[64];
        snprintf(name, sizeof name, "nested_%s", codecs[c].name);
        write_file(name, s, &o, 2000 + c, 400);
    }
    fl_pq_schema_free(s);
}

static void test_random(void)
{
    for (uint64_t seed = 1; seed <= 30; seed++) {
        tg_rng r = {seed * 7919};
        fl_pq_schema *s;
        fl_err err;
        if (fl_pq_schema_new(&s, &err)) return;
        tg_fill_group(s, &r, 0, 0);
        fl_pq_write_opts o;
        fl_pq_write_opts_default(&o);
        o.codec = codecs[seed % 5].c;
        o.page_size = 512;
        o.dict_page_limit = seed % 3 == 0 ? 64 : 1 << 20;
        char name[64];
        snprintf(name, sizeof name, "random_%02d", (int)seed);
        write_file(name, s, &o, seed, 60);
        fl_pq_schema_free(s);
    }
}

/* The columnar batch API: flat columns in the simple form and a list column both in the
 * simple (offsets) form and in the raw levels form. */
static void test_batch(void)
{
    fl_pq_schema *s;
    fl_err err;
    CHECK(fl_pq_schema_new(&s, &err) == FL_OK);
    fl_pq_type str = fl_pq_t_string(), i64 = fl_pq_t_i64();
    fl_pq_schema_add(s, 0, "id", FL_PQ_REQUIRED, fl_pq_t_i64());
    fl_pq_schema_add(s, 0, "code", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_list(s, 0, "given", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    fl_pq_schema_add_list(s, 0, "nums", FL_PQ_REQUIRED, FL_PQ_REQUIRED, &i64);
    enum { N = 1000 };
    static int64_t ids[N], nums[4 * N], offs[N + 1], noffs[N + 1];
    static fl_str codes[N], given[3 * N];
    static uint8_t code_valid[N], given_valid[3 * N], list_valid[N];
    static int16_t ndef[4 * N], nrep[4 * N];
    static const char *const words[] = {"final", "amended", "", "ünïcødé", "Patient/1"};
    size_t ng = 0, nn = 0, nl = 0;
    for (int i = 0; i < N; i++) {
        ids[i] = (int64_t)i * 1000003 - 500000000;
        codes[i] = fl_str_c(words[i % 5]);
        code_valid[i] = i % 7 != 0;
        offs[i] = (int64_t)ng;
        list_valid[i] = i % 11 != 0;
        if (list_valid[i])
            for (int k = 0; k < i % 4; k++) {
                given[ng] = fl_str_c(words[(i + k) % 5]);
                given_valid[ng] = (i + k) % 9 != 0;
                ng++;
            }
        noffs[i] = (int64_t)nn;
        int cnt = i % 3;
        if (cnt == 0) {
            ndef[nl] = 0;
            nrep[nl++] = 0;
        }
        for (int k = 0; k < cnt; k++) {
            nums[nn++] = i * 10 + k;
            ndef[nl] = 1;
            nrep[nl++] = (int16_t)(k ? 1 : 0);
        }
    }
    offs[N] = (int64_t)ng;
    noffs[N] = (int64_t)nn;
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    o.codec = FL_PQ_ZSTD;
    char path[1200];
    snprintf(path, sizeof path, "%s/batch_zstd.parquet", outdir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fl_pq_writer *w = NULL;
    CHECK(fl_pq_writer_new(s, &o, fl_pq_sink_stdio, f, &w, &err) == FL_OK);
    /* two batches: the first N/2 rows, then the rest (offsets stay absolute) */
    for (int half = 0; half < 2 && w; half++) {
        size_t r0 = half ? N / 2 : 0, nr = N / 2;
        size_t l0 = 0, l1 = 0;
        /* levels slice for `nums`: find entries of rows [r0, r0+nr) */
        size_t row = 0;
        for (size_t k = 0; k < nl; k++) {
            if (nrep[k] == 0) {
                if (row == r0) l0 = k;
                if (row == r0 + nr) break;
                row++;
            }
            l1 = k + 1;
        }
        fl_pq_colvec cols[4];
        memset(cols, 0, sizeof cols);
        cols[0].values = ids + r0;
        cols[1].values = codes + r0;
        cols[1].valid = code_valid + r0;
        cols[2].values = given;
        cols[2].valid = given_valid;
        cols[2].offsets = offs + r0;
        cols[2].list_valid = list_valid + r0;
        cols[3].values = nums + noffs[r0];
        cols[3].def_levels = ndef + l0;
        cols[3].rep_levels = nrep + l0;
        cols[3].num_levels = l1 - l0;
        fl_rc rc = fl_pq_writer_write_batch(w, cols, 4, nr);
        CHECK_MSG(rc == FL_OK, "batch %d: %s", half, fl_pq_writer_err(w)->msg);
    }
    if (w) CHECK(fl_pq_writer_finish(w, &err) == FL_OK);
    fl_pq_writer_free(w);
    fclose(f);
    /* expected rows, and a read-back check */
    snprintf(path, sizeof path, "%s/batch_zstd.jsonl", outdir);
    FILE *j = fopen(path, "wb");
    fl_pq_reader *rd = NULL;
    snprintf(path, sizeof path, "%s/batch_zstd.parquet", outdir);
    CHECK(fl_pq_reader_open_file(path, NULL, &rd, &err) == FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf want, got;
    fl_buf_init(&want, 0);
    fl_buf_init(&got, 0);
    for (int i = 0; i < N && rd && j; i++) {
        fl_buf_clear(&want);
        fl_buf_printf(&want, "{\"id\":%lld,\"code\":", (long long)ids[i]);
        if (code_valid[i]) fl_buf_printf(&want, "\"%s\"", codes[i].ptr);
        else fl_buf_append_c(&want, "null");
        fl_buf_append_c(&want, ",\"given\":");
        if (!list_valid[i]) {
            fl_buf_append_c(&want, "null");
        } else {
            fl_buf_putc(&want, '[');
            for (int64_t k = offs[i]; k < offs[i + 1]; k++) {
                if (k > offs[i]) fl_buf_putc(&want, ',');
                if (given_valid[k]) fl_buf_printf(&want, "\"%s\"", given[k].ptr);
                else fl_buf_append_c(&want, "null");
            }
            fl_buf_putc(&want, ']');
        }
        fl_buf_append_c(&want, ",\"nums\":[");
        for (int64_t k = noffs[i]; k < noffs[i + 1]; k++) fl_buf_printf(&want, "%s%lld", k > noffs[i] ? "," : "", (long long)nums[k]);
        fl_buf_append_c(&want, "]}");
        fprintf(j, "%s\n", want.ptr);
        fl_pq_val *row;
        fl_rc rc = fl_pq_reader_next_row(rd, &a, &row, &err);
        CHECK_MSG(rc == FL_OK, "row %d: %s", i, err.msg);
        if (rc) break;
        fl_buf_clear(&got);
        fl_pq_format_row(fl_pq_reader_get_schema(rd), row, &got);
        CHECK_MSG(!strcmp(want.ptr, got.ptr), "row %d:\n want %s\n got  %s", i, want.ptr, got.ptr);
        fl_arena_reset(&a);
    }
    if (j) fclose(j);
    fl_buf_reset(&want);
    fl_buf_reset(&got);
    fl_arena_fini(&a);
    fl_pq_reader_free(rd);
    fl_pq_schema_free(s);
}

int main(void)
{
    const char *env = getenv("FL_PQ_OUT");
    if (env && *env) {
        snprintf(outdir, sizeof outdir, "%s", env);
        mkdir(outdir, 0755);
    } else {
        snprintf(outdir, sizeof outdir, "/tmp/fl_pq_interop_XXXXXX");
        if (!mkdtemp(outdir)) return 1;
    }
    RUN(test_flat);
    RUN(test_nested);
    RUN(test_random);
    RUN(test_batch);
    if (!(env && *env)) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", outdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", outdir);
    }
    return testhelp_done();
}
