/* test_readat.c - lifetime of values read through the read-at callback (src/parquet,
 * pq_read.c / pq_assemble.c). Files shaped like Delta checkpoints (one action per row:
 * strings, maps, nested structs, lists, several row groups and pages, every codec, with and
 * without dictionaries) are read through fl_pq_reader_open's callback and every assembled
 * row is compared with what was written, and with the in-memory reader. The read-at
 * reader reuses one chunk buffer, so any value left pointing into it is caught here (as
 * wrong values, or as a heap-use-after-free under ASan). The Delta checkpoints under
 * tests/data/delta are read both ways and compared row by row. */
#include "parquet/pq_testgen.h"
#include "testhelp.h"

#include "fhirlake/os.h"

/* ---------------------------------------------------------------- sources */

typedef struct mem_src {
    const uint8_t *p;
    size_t n;
    int reads;
} mem_src;

/* Copies from the file image; the reader's destination buffer is its own business. */
static fl_rc read_at(void *ctx, uint64_t off, void *dst, size_t len, fl_err *err)
{
    mem_src *m = ctx;
    m->reads++;
    if (off > m->n || len > m->n - off) return fl_err_set(err, FL_E_EOF, "read past the end");
    if (len) memcpy(dst, m->p + off, len);
    return FL_OK;
}

/* ---------------------------------------------------------------- a checkpoint-like file */

/* txn, add (path, partitionValues map, size, modificationTime, dataChange, stats, tags map,
 * deletionVector struct), remove, metaData (id, format struct with options map,
 * schemaString, partitionColumns list, configuration map), protocol. */
static fl_pq_schema *ckpt_schema(void)
{
    fl_pq_schema *s;
    if (fl_pq_schema_new(&s, NULL)) return NULL;
    fl_pq_type str = fl_pq_t_string();
    int txn = fl_pq_schema_add_group(s, 0, "txn", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, txn, "appId", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, txn, "version", FL_PQ_OPTIONAL, fl_pq_t_i64());
    int add = fl_pq_schema_add_group(s, 0, "add", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, add, "path", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_map(s, add, "partitionValues", FL_PQ_OPTIONAL, str, FL_PQ_OPTIONAL, &str);
    fl_pq_schema_add(s, add, "size", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(s, add, "modificationTime", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(s, add, "dataChange", FL_PQ_OPTIONAL, fl_pq_t_bool());
    fl_pq_schema_add(s, add, "stats", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_map(s, add, "tags", FL_PQ_OPTIONAL, str, FL_PQ_OPTIONAL, &str);
    int dv = fl_pq_schema_add_group(s, add, "deletionVector", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, dv, "storageType", FL_PQ_REQUIRED, str);
    fl_pq_schema_add(s, dv, "pathOrInlineDv", FL_PQ_REQUIRED, str);
    fl_pq_schema_add(s, dv, "offset", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(s, dv, "cardinality", FL_PQ_REQUIRED, fl_pq_t_i64());
    int rm = fl_pq_schema_add_group(s, 0, "remove", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, rm, "path", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(s, rm, "deletionTimestamp", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(s, rm, "dataChange", FL_PQ_OPTIONAL, fl_pq_t_bool());
    int md = fl_pq_schema_add_group(s, 0, "metaData", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, md, "id", FL_PQ_OPTIONAL, str);
    int fmt = fl_pq_schema_add_group(s, md, "format", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, fmt, "provider", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_map(s, fmt, "options", FL_PQ_OPTIONAL, str, FL_PQ_OPTIONAL, &str);
    fl_pq_schema_add(s, md, "schemaString", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_list(s, md, "partitionColumns", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    fl_pq_schema_add_map(s, md, "configuration", FL_PQ_OPTIONAL, str, FL_PQ_OPTIONAL, &str);
    int pr = fl_pq_schema_add_group(s, 0, "protocol", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(s, pr, "minReaderVersion", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(s, pr, "minWriterVersion", FL_PQ_OPTIONAL, fl_pq_t_i32());
    return s;
}

/* A string value written to the file and to the expected JSON (no characters that JSON
 * escapes). */
static void put_s(fl_pq_writer *w, fl_buf *ex, const char *v)
{
    fl_pq_writer_put_str(w, fl_str_c(v));
    fl_buf_printf(ex, "\"%s\"", v);
}

static void put_i64(fl_pq_writer *w, fl_buf *ex, int64_t v)
{
    fl_pq_writer_put_i64(w, v);
    fl_buf_printf(ex, "%lld", (long long)v);
}

static void put_null(fl_pq_writer *w, fl_buf *ex)
{
    fl_pq_writer_put_null(w);
    fl_buf_append_c(ex, "null");
}

/* A long, mostly unique string (grows later chunks past earlier ones, so a reused chunk
 * buffer is reallocated and freed). */
static void long_str(char *buf, size_t cap, const char *prefix, int64_t i, size_t len)
{
    int k = snprintf(buf, cap, "%s-%lld-", prefix, (long long)i);
    size_t p = k > 0 ? (size_t)k : 0;
    while (p + 1 < cap && p < len) {
        buf[p] = (char)('a' + (char)((p * 7 + (size_t)i) % 26));
        p++;
    }
    buf[p] = 0;
}

/* Row i: protocol, metaData, txn, then adds with a remove every 7th row. */
static void put_ckpt_row(fl_pq_writer *w, fl_buf *ex, int64_t i)
{
    char b1[2048], b2[256];
    int kind = i == 0 ? 0 : i == 1 ? 1 : i == 2 ? 2 : i % 7 == 0 ? 3 : 4;
    fl_buf_append_c(ex, "{\"txn\":");
    if (kind == 2) {
        fl_pq_writer_begin_struct(w);
        fl_buf_append_c(ex, "{\"appId\":");
        put_s(w, ex, "streaming-app");
        fl_buf_append_c(ex, ",\"version\":");
        put_i64(w, ex, 42);
        fl_buf_append_c(ex, "}");
        fl_pq_writer_end(w);
    } else {
        put_null(w, ex);
    }
    fl_buf_append_c(ex, ",\"add\":");
    if (kind == 4) {
        fl_pq_writer_begin_struct(w);
        snprintf(b1, sizeof b1, "date=2024-01-%02d/part-%05lld-c000.snappy.parquet", (int)(i % 28) + 1, (long long)i);
        fl_buf_append_c(ex, "{\"path\":");
        put_s(w, ex, b1);
        fl_buf_append_c(ex, ",\"partitionValues\":[");
        fl_pq_writer_begin_map(w);
        snprintf(b2, sizeof b2, "2024-01-%02d", (int)(i % 28) + 1);
        fl_buf_append_c(ex, "[");
        put_s(w, ex, "date");
        fl_buf_append_c(ex, ",");
        put_s(w, ex, b2);
        fl_buf_append_c(ex, "],[");
        put_s(w, ex, "region");
        fl_buf_append_c(ex, ",");
        if (i % 3 == 0) put_null(w, ex);
        else put_s(w, ex, i % 3 == 1 ? "eu" : "us");
        fl_buf_append_c(ex, "]");
        fl_pq_writer_end(w);
        fl_buf_append_c(ex, "],\"size\":");
        put_i64(w, ex, 1000 + i * 13);
        fl_buf_append_c(ex, ",\"modificationTime\":");
        put_i64(w, ex, 1700000000000 + i);
        fl_buf_append_c(ex, ",\"dataChange\":");
        fl_pq_writer_put_bool(w, i % 2 == 0);
        fl_buf_append_c(ex, i % 2 == 0 ? "true" : "false");
        fl_buf_append_c(ex, ",\"stats\":");
        long_str(b1, sizeof b1, "numRecords", i, 40 + (size_t)(i * 37 % 900));
        put_s(w, ex, b1);
        fl_buf_append_c(ex, ",\"tags\":");
        if (i % 4 == 0) {
            put_null(w, ex);
        } else {
            fl_pq_writer_begin_map(w);
            fl_buf_append_c(ex, "[");
            for (int k = 0; k < (int)(i % 4); k++) {
                snprintf(b2, sizeof b2, "tag%d", k);
                fl_buf_append_c(ex, k ? ",[" : "[");
                put_s(w, ex, b2);
                fl_buf_append_c(ex, ",");
                long_str(b1, sizeof b1, "v", i + k, 5 + (size_t)k * 30);
                put_s(w, ex, b1);
                fl_buf_append_c(ex, "]");
            }
            fl_pq_writer_end(w);
            fl_buf_append_c(ex, "]");
        }
        fl_buf_append_c(ex, ",\"deletionVector\":");
        if (i % 5 == 0) {
            fl_pq_writer_begin_struct(w);
            fl_buf_append_c(ex, "{\"storageType\":");
            put_s(w, ex, "u");
            fl_buf_append_c(ex, ",\"pathOrInlineDv\":");
            long_str(b1, sizeof b1, "ab^-aV,7+?9", i, 20);
            put_s(w, ex, b1);
            fl_buf_append_c(ex, ",\"offset\":");
            fl_pq_writer_put_i32(w, (int32_t)i);
            fl_buf_printf(ex, "%d", (int)i);
            fl_buf_append_c(ex, ",\"cardinality\":");
            put_i64(w, ex, i * 3);
            fl_buf_append_c(ex, "}");
            fl_pq_writer_end(w);
        } else {
            put_null(w, ex);
        }
        fl_buf_append_c(ex, "}");
        fl_pq_writer_end(w);
    } else {
        put_null(w, ex);
    }
    fl_buf_append_c(ex, ",\"remove\":");
    if (kind == 3) {
        fl_pq_writer_begin_struct(w);
        snprintf(b1, sizeof b1, "date=2023-12-%02d/part-%05lld-old.snappy.parquet", (int)(i % 28) + 1, (long long)i);
        fl_buf_append_c(ex, "{\"path\":");
        put_s(w, ex, b1);
        fl_buf_append_c(ex, ",\"deletionTimestamp\":");
        put_i64(w, ex, 1700000500000 + i);
        fl_buf_append_c(ex, ",\"dataChange\":");
        fl_pq_writer_put_bool(w, true);
        fl_buf_append_c(ex, "true}");
        fl_pq_writer_end(w);
    } else {
        put_null(w, ex);
    }
    fl_buf_append_c(ex, ",\"metaData\":");
    if (kind == 1) {
        fl_pq_writer_begin_struct(w);
        fl_buf_append_c(ex, "{\"id\":");
        put_s(w, ex, "0f7f4b2e-8d1c-4e2a-9b5e-3c7d1a2b4c5d");
        fl_buf_append_c(ex, ",\"format\":{\"provider\":");
        fl_pq_writer_begin_struct(w);
        put_s(w, ex, "parquet");
        fl_buf_append_c(ex, ",\"options\":[]}");
        fl_pq_writer_begin_map(w);
        fl_pq_writer_end(w);
        fl_pq_writer_end(w);
        fl_buf_append_c(ex, ",\"schemaString\":");
        long_str(b1, sizeof b1, "struct-type", i, 1500);
        put_s(w, ex, b1);
        fl_buf_append_c(ex, ",\"partitionColumns\":[");
        fl_pq_writer_begin_list(w);
        put_s(w, ex, "date");
        fl_buf_append_c(ex, ",");
        put_s(w, ex, "region");
        fl_pq_writer_end(w);
        fl_buf_append_c(ex, "],\"configuration\":[[");
        fl_pq_writer_begin_map(w);
        put_s(w, ex, "delta.enableDeletionVectors");
        fl_buf_append_c(ex, ",");
        put_s(w, ex, "true");
        fl_buf_append_c(ex, "],[");
        put_s(w, ex, "delta.checkpointInterval");
        fl_buf_append_c(ex, ",");
        put_null(w, ex);
        fl_buf_append_c(ex, "]]}");
        fl_pq_writer_end(w);
        fl_pq_writer_end(w);
    } else {
        put_null(w, ex);
    }
    fl_buf_append_c(ex, ",\"protocol\":");
    if (kind == 0) {
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_i32(w, 3);
        fl_pq_writer_put_i32(w, 7);
        fl_pq_writer_end(w);
        fl_buf_append_c(ex, "{\"minReaderVersion\":3,\"minWriterVersion\":7}");
    } else {
        put_null(w, ex);
    }
    fl_buf_append_c(ex, "}");
}

/* Write nrows checkpoint rows; expected canonical JSON lines go to `expect`
 * ('\n'-separated). */
static fl_rc write_ckpt(fl_buf *out, fl_buf *expect, int nrows, int64_t rg_rows, fl_pq_codec codec, uint32_t flags,
                        size_t page_size, fl_err *err)
{
    fl_pq_schema *s = ckpt_schema();
    if (!s) return FL_E_NOMEM;
    fl_rc rc = fl_pq_schema_check(s, err);
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    o.codec = codec;
    o.flags = flags;
    o.row_group_rows = rg_rows;
    o.page_size = page_size;
    fl_pq_writer *w = NULL;
    if (rc == FL_OK) rc = fl_pq_writer_new(s, &o, fl_pq_sink_buf, out, &w, err);
    if (rc == FL_OK) {
        for (int i = 0; i < nrows; i++) {
            put_ckpt_row(w, expect, i);
            fl_buf_append_c(expect, "\n");
            if (fl_pq_writer_end_row(w)) break;
        }
        rc = fl_pq_writer_finish(w, err);
    }
    fl_pq_writer_free(w);
    fl_pq_schema_free(s);
    return rc;
}

/* Every row of r as canonical JSON lines (formatted with schema s) into `lines`. All rows
 * are read into one arena first, then r is freed, and only then are the rows formatted:
 * a row must depend on nothing but that arena (not on the reader's chunk buffer, later
 * row groups, or the reader itself). Frees r. */
static fl_rc dump_rows(fl_pq_reader *r, const fl_pq_schema *s, fl_buf *lines, int64_t *nrows, fl_err *err)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_pq_val **rows = NULL;
    size_t n = 0, cap = 0;
    fl_rc rc;
    *nrows = 0;
    for (;;) {
        fl_pq_val *row;
        rc = fl_pq_reader_next_row(r, &a, &row, err);
        if (rc) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            fl_pq_val **nr = realloc(rows, cap * sizeof *nr);
            if (!nr) {
                rc = FL_E_NOMEM;
                break;
            }
            rows = nr;
        }
        rows[n++] = row;
    }
    fl_pq_reader_free(r);
    if (rc == FL_E_EOF) {
        rc = FL_OK;
        for (size_t i = 0; i < n && rc == FL_OK; i++) {
            rc = fl_pq_format_row(s, rows[i], lines);
            if (rc == FL_OK) rc = fl_buf_append_c(lines, "\n");
        }
        *nrows = (int64_t)n;
    }
    free(rows);
    fl_arena_fini(&a);
    return rc;
}

/* Compare two line sets; reports the first differing line. */
static void check_same_lines(const fl_buf *got, const fl_buf *want, const char *what)
{
    const char *g = got->ptr ? got->ptr : "", *x = want->ptr ? want->ptr : "";
    size_t gl = got->len, xl = want->len;
    if (gl == xl && memcmp(g, x, gl) == 0) {
        CHECK(1);
        return;
    }
    size_t line = 0, i = 0, start = 0;
    while (i < gl && i < xl && g[i] == x[i]) {
        if (g[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    size_t ge = start, xe = start;
    while (ge < gl && g[ge] != '\n') ge++;
    while (xe < xl && x[xe] != '\n') xe++;
    CHECK_MSG(0, "%s: line %zu differs:\n  got  %.*s\n  want %.*s", what, line + 1, (int)(ge - start > 300 ? 300 : ge - start),
              g + start, (int)(xe - start > 300 ? 300 : xe - start), x + start);
}

/* Every codec, dictionary on and off, small pages and several row groups: rows read
 * through the callback equal the rows written and the rows read from memory. */
static void test_readat_rows(void)
{
    static const fl_pq_codec codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_ZSTD, FL_PQ_GZIP, FL_PQ_LZ4_RAW};
    for (size_t ci = 0; ci < sizeof codecs / sizeof codecs[0]; ci++) {
        for (int nodict = 0; nodict < 2; nodict++) {
            for (int small_pages = 0; small_pages < 2; small_pages++) {
                char what[96];
                snprintf(what, sizeof what, "codec %d, %s, %s pages", (int)codecs[ci], nodict ? "plain" : "dictionary",
                         small_pages ? "small" : "large");
                fl_buf file, expect, got_at, got_mem;
                fl_buf_init(&file, 0);
                fl_buf_init(&expect, 0);
                fl_buf_init(&got_at, 0);
                fl_buf_init(&got_mem, 0);
                fl_err err;
                int nrows = 300;
                fl_rc rc = write_ckpt(&file, &expect, nrows, 64, codecs[ci], nodict ? FL_PQ_W_NO_DICT : 0,
                                      small_pages ? 2048 : 0, &err);
                CHECK_MSG(rc == FL_OK, "%s: write: %s", what, err.msg);

                mem_src m = {(const uint8_t *)file.ptr, file.len, 0};
                fl_pq_reader *rs = NULL, *r = NULL; /* rs: the schema for formatting */
                int64_t n_at = 0, n_mem = 0;
                CHECK(fl_pq_reader_open_mem(file.ptr, file.len, NULL, &rs, &err) == FL_OK);
                rc = fl_pq_reader_open(read_at, &m, file.len, NULL, &r, &err);
                CHECK_MSG(rc == FL_OK, "%s: open: %s", what, err.msg);
                if (rc == FL_OK && rs) {
                    CHECK_EQ_INT(fl_pq_reader_num_row_groups(r), 5);
                    rc = dump_rows(r, fl_pq_reader_get_schema(rs), &got_at, &n_at, &err);
                    CHECK_MSG(rc == FL_OK, "%s: read-at rows: %s", what, err.msg);
                }
                CHECK_EQ_INT(n_at, nrows);
                check_same_lines(&got_at, &expect, what);

                rc = fl_pq_reader_open_mem(file.ptr, file.len, NULL, &r, &err);
                CHECK_MSG(rc == FL_OK, "%s: open_mem: %s", what, err.msg);
                if (rc == FL_OK && rs) {
                    rc = dump_rows(r, fl_pq_reader_get_schema(rs), &got_mem, &n_mem, &err);
                    CHECK_MSG(rc == FL_OK, "%s: in-memory rows: %s", what, err.msg);
                }
                fl_pq_reader_free(rs);
                CHECK_EQ_INT(n_mem, nrows);
                check_same_lines(&got_mem, &expect, what);

                fl_buf_reset(&file);
                fl_buf_reset(&expect);
                fl_buf_reset(&got_at);
                fl_buf_reset(&got_mem);
            }
        }
    }
}

/* fl_pq_reader_read_column through the callback: a chunk's arrays and strings live in the
 * caller's arena and survive reading every other chunk of the file with the same reader. */
static void test_readat_columns(void)
{
    fl_buf file, expect;
    fl_buf_init(&file, 0);
    fl_buf_init(&expect, 0);
    fl_err err;
    CHECK(write_ckpt(&file, &expect, 200, 50, FL_PQ_UNCOMPRESSED, 0, 0, &err) == FL_OK);
    mem_src m = {(const uint8_t *)file.ptr, file.len, 0};
    fl_pq_reader *ra = NULL, *rm = NULL;
    CHECK(fl_pq_reader_open(read_at, &m, file.len, NULL, &ra, &err) == FL_OK);
    CHECK(fl_pq_reader_open_mem(file.ptr, file.len, NULL, &rm, &err) == FL_OK);
    if (ra && rm) {
        const fl_pq_schema *s = fl_pq_reader_get_schema(ra);
        int nl = fl_pq_schema_num_leaves(s), nrg = fl_pq_reader_num_row_groups(ra);
        fl_arena aa, am;
        fl_arena_init(&aa, 0, 0);
        fl_arena_init(&am, 0, 0);
        fl_pq_column *ca = calloc((size_t)(nl * nrg), sizeof *ca);
        fl_pq_column *cm = calloc((size_t)(nl * nrg), sizeof *cm);
        CHECK(ca && cm);
        bool *is_bytes = calloc((size_t)nl, sizeof *is_bytes);
        CHECK(ca && cm && is_bytes);
        for (int l = 0; is_bytes && l < nl; l++)
            is_bytes[l] = fl_pq_schema_node(s, fl_pq_schema_leaf_node(s, l))->type.phys == FL_PQ_BYTE_ARRAY;
        for (int rg = 0; ca && cm && rg < nrg; rg++)
            for (int l = 0; l < nl; l++) {
                CHECK(fl_pq_reader_read_column(ra, rg, l, &aa, &ca[rg * nl + l], &err) == FL_OK);
                CHECK(fl_pq_reader_read_column(rm, rg, l, &am, &cm[rg * nl + l], &err) == FL_OK);
            }
        /* only now look at the values, after every chunk of the file was read and with the
         * readers and the file image gone: the arenas must hold everything */
        fl_pq_reader_free(ra);
        fl_pq_reader_free(rm);
        ra = rm = NULL;
        fl_buf_reset(&file);
        int mismatched = 0;
        for (int i = 0; ca && cm && is_bytes && i < nl * nrg; i++) {
            const fl_pq_column *x = &ca[i], *y = &cm[i];
            CHECK_EQ_INT(x->num_levels, y->num_levels);
            CHECK_EQ_INT(x->num_values, y->num_values);
            if (x->num_values != y->num_values) continue;
            if (is_bytes[i % nl]) {
                const fl_str *sx = x->values, *sy = y->values;
                for (size_t k = 0; k < x->num_values; k++) mismatched += !fl_str_eq(sx[k], sy[k]);
            }
        }
        CHECK_EQ_INT(mismatched, 0);
        free(ca);
        free(cm);
        free(is_bytes);
        fl_arena_fini(&aa);
        fl_arena_fini(&am);
    }
    fl_pq_reader_free(ra);
    fl_pq_reader_free(rm);
    fl_buf_reset(&file);
    fl_buf_reset(&expect);
}

/* ---------------------------------------------------------------- Delta checkpoints */

static bool is_checkpoint(fl_str name)
{
    if (name.len <= 8 || memcmp(name.ptr + name.len - 8, ".parquet", 8) != 0) return false;
    for (size_t i = 0; i + 10 <= name.len; i++)
        if (memcmp(name.ptr + i, "checkpoint", 10) == 0) return true;
    return false;
}

static void compare_file(const char *path, int *files)
{
    fl_buf data, at, mem;
    fl_buf_init(&data, 0);
    fl_buf_init(&at, 0);
    fl_buf_init(&mem, 0);
    fl_err err;
    fl_rc rc = fl_file_read(path, (size_t)1 << 30, &data, &err);
    CHECK_MSG(rc == FL_OK, "%s: %s", path, err.msg);
    if (rc == FL_OK) {
        mem_src m = {(const uint8_t *)data.ptr, data.len, 0};
        fl_pq_reader *rs = NULL, *r = NULL; /* rs: the schema for formatting */
        int64_t na = -1, nm = -2;
        fl_rc rca = fl_pq_reader_open_mem(data.ptr, data.len, NULL, &rs, &err);
        if (rca == FL_OK) rca = fl_pq_reader_open(read_at, &m, data.len, NULL, &r, &err);
        if (rca == FL_OK) rca = dump_rows(r, fl_pq_reader_get_schema(rs), &at, &na, &err);
        r = NULL;
        fl_rc rcm = rca;
        if (rcm == FL_OK) rcm = fl_pq_reader_open_mem(data.ptr, data.len, NULL, &r, &err);
        if (rcm == FL_OK) rcm = dump_rows(r, fl_pq_reader_get_schema(rs), &mem, &nm, &err);
        if (rcm == FL_OK) CHECK_EQ_INT(nm, fl_pq_reader_num_rows(rs));
        fl_pq_reader_free(rs);
        CHECK_MSG(rca == FL_OK && rcm == FL_OK, "%s: read-at %s, in-memory %s: %s", path, fl_rc_name(rca), fl_rc_name(rcm),
                  err.msg);
        CHECK_MSG(na == nm, "%s: %lld rows read-at, %lld in memory", path, (long long)na, (long long)nm);
        check_same_lines(&at, &mem, path);
        (*files)++;
    }
    fl_buf_reset(&data);
    fl_buf_reset(&at);
    fl_buf_reset(&mem);
}

static void walk(const char *dir, int depth, int *files)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str *names = NULL;
    size_t n = 0;
    fl_err err;
    if (depth < 8 && fl_dir_list(dir, &a, &names, &n, &err) == FL_OK) {
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%.*s", dir, (int)names[i].len, names[i].ptr);
            bool is_dir = false;
            uint64_t size = 0;
            if (!fl_path_exists(path, &is_dir, &size)) continue;
            if (is_dir) walk(path, depth + 1, files);
            else if (is_checkpoint(names[i])) compare_file(path, files);
        }
    }
    fl_arena_fini(&a);
}

/* The checkpoints of tests/data/delta (Spark / delta-kernel writers): the same rows through
 * the callback as from memory. */
static void test_delta_checkpoints(void)
{
    int files = 0;
    walk(FL_SOURCE_DIR "/tests/data/delta", 0, &files);
    CHECK_MSG(files >= 30, "only %d checkpoint files found", files);
    fprintf(stderr, "  %d checkpoint files compared\n", files);
}

int main(void)
{
    RUN(test_readat_rows);
    RUN(test_readat_columns);
    RUN(test_delta_checkpoints);
    return testhelp_done();
}
