/* test_json_ndjson.c - NDJSON reader tests (tests src/json/json_ndjson.c): LF/CRLF,
 * blank lines, BOM, missing final newline, over-long lines, gzip (single, concatenated,
 * truncated, in memory), lines across read-chunk boundaries, fl_json_read_file. */
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
    return buf[i];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* gzip-compress data into out (one member). */
static void gz_member(const void *data, size_t n, fl_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t bound = deflateBound(&zs, (uLong)n) + 64;
    fl_buf_reserve(out, bound);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->ptr + out->len;
    zs.avail_out = (uInt)bound;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out->len += bound - zs.avail_out;
    deflateEnd(&zs);
}

/* Read every line: "lineno:text|" concatenated; errors as "lineno:!LIMIT|". */
static fl_rc collect(fl_ndjson_reader *r, fl_buf *out)
{
    fl_ndjson_line line;
    fl_err err;
    for (;;) {
        fl_rc rc = fl_ndjson_next(r, &line, &err);
        if (rc == FL_E_EOF) return FL_OK;
        if (rc == FL_E_LIMIT) {
            fl_buf_printf(out, "%u:!LIMIT|", err.line);
            CHECK(line.line_no == err.line && line.text.len == 0 && line.offset == err.pos);
            continue;
        }
        if (rc) return rc;
        fl_buf_printf(out, "%llu:%.*s|", (unsigned long long)line.line_no, (int)line.text.len, line.text.ptr);
    }
}

static void expect_mem(const char *in, size_t n, size_t max_line, const char *want)
{
    fl_ndjson_opts o = {.max_line = max_line};
    fl_ndjson_reader *r = NULL;
    fl_err err;
    CHECK(fl_ndjson_open_mem(in, n, &o, &r, &err) == FL_OK);
    fl_buf out;
    fl_buf_init(&out, 0);
    CHECK(collect(r, &out) == FL_OK);
    CHECK_EQ_MEM(out.ptr ? out.ptr : "", out.len, want);
    /* the same through a file, and through a gzip file */
    const char *p = tmp_path("in.ndjson");
    write_file(p, in, n);
    fl_ndjson_close(r);
    CHECK(fl_ndjson_open(p, &o, &r, &err) == FL_OK);
    fl_buf_clear(&out);
    CHECK(collect(r, &out) == FL_OK);
    CHECK_EQ_MEM(out.ptr ? out.ptr : "", out.len, want);
    CHECK_EQ_INT(fl_ndjson_bytes_read(r), n);
    fl_ndjson_close(r);
    fl_buf gz;
    fl_buf_init(&gz, 0);
    gz_member(in, n, &gz);
    const char *pg = tmp_path("in.ndjson.gz");
    write_file(pg, gz.ptr, gz.len);
    CHECK(fl_ndjson_open(pg, &o, &r, &err) == FL_OK);
    fl_buf_clear(&out);
    CHECK(collect(r, &out) == FL_OK);
    CHECK_EQ_MEM(out.ptr ? out.ptr : "", out.len, want);
    CHECK_EQ_INT(fl_ndjson_bytes_read(r), gz.len);
    fl_ndjson_close(r);
    fl_buf_reset(&gz);
    fl_buf_reset(&out);
}

static void test_lines(void)
{
    expect_mem("", 0, 0, "");
    expect_mem("\n\n", 2, 0, "");
    expect_mem("a", 1, 0, "1:a|");                               /* no trailing newline */
    expect_mem("a\nb\n", 4, 0, "1:a|2:b|");
    expect_mem("a\r\nb\r\n", 6, 0, "1:a|2:b|");                  /* CRLF */
    expect_mem("a\n\n  \t\r\n\r\nb", 11, 0, "1:a|5:b|");          /* blank lines skipped, counted */
    expect_mem("\xEF\xBB\xBF{\"a\":1}\n{}", 14, 0, "1:{\"a\":1}|2:{}|"); /* leading BOM */
    expect_mem("x\n\xEF\xBB\xBFy", 6, 0, "1:x|2:\xEF\xBB\xBFy|");  /* only a leading BOM is removed */
    expect_mem(" {} \n", 5, 0, "1: {} |");                        /* other whitespace is the parser's */
}

static void test_offsets(void)
{
    const char *in = "\xEF\xBB\xBF[1]\r\n\n[22]\n[3]";
    fl_ndjson_reader *r;
    fl_err err;
    CHECK(fl_ndjson_open_mem(in, strlen(in), NULL, &r, &err) == FL_OK);
    fl_ndjson_line l;
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(l.line_no == 1 && l.offset == 3);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(l.line_no == 3 && l.offset == 9);
    CHECK_EQ_MEM(l.text.ptr, l.text.len, "[22]");
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(l.line_no == 4 && l.offset == 14);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_E_EOF);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_E_EOF); /* stays at EOF */
    fl_ndjson_close(r);
}

static void test_long_lines(void)
{
    /* limit 8: a 9-byte line is over, an 8-byte line (plus CR) is fine */
    expect_mem("12345678\r\n123456789\nok\n", 23, 8, "1:12345678|2:!LIMIT|3:ok|");
    expect_mem("123456789", 9, 8, "1:!LIMIT|");
    /* a line far longer than the read buffer is skipped in pieces, memory stays bounded */
    size_t big = 3u << 20;
    char *data = malloc(big + 64);
    CHECK(data != NULL);
    if (!data) return;
    size_t n = 0;
    memcpy(data + n, "{\"first\":1}\n", 12);
    n += 12;
    memset(data + n, 'x', big);
    n += big;
    memcpy(data + n, "\n\n{\"last\":2}\n", 13);
    n += 13;
    expect_mem(data, n, 1000, "1:{\"first\":1}|2:!LIMIT|4:{\"last\":2}|");
    expect_mem(data, n - 13, 1000, "1:{\"first\":1}|2:!LIMIT|"); /* long line at EOF */
    /* with the default limit (64 MiB) the 3 MiB line is returned whole */
    fl_ndjson_reader *r;
    fl_err err;
    write_file(tmp_path("big.ndjson"), data, n);
    CHECK(fl_ndjson_open(tmp_path("big.ndjson"), NULL, &r, &err) == FL_OK);
    fl_ndjson_line l;
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(l.line_no == 2 && l.text.len == big && l.offset == 12);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_OK);
    CHECK(l.line_no == 4);
    CHECK(fl_ndjson_next(r, &l, &err) == FL_E_EOF);
    fl_ndjson_close(r);
    free(data);
}

/* Many lines crossing read-chunk boundaries, plain and gzip, every line checked. */
static void test_many_lines(void)
{
    fl_buf in;
    fl_buf_init(&in, 0);
    int count = 60000;
    for (int i = 0; i < count; i++) {
        fl_buf_printf(&in, "{\"resourceType\":\"Patient\",\"id\":\"%d\",\"pad\":\"%.*s\"}%s", i, i % 37,
                      "0123456789012345678901234567890123456789", i % 3 ? "\n" : "\r\n");
    }
    CHECK(in.len > (size_t)2 << 20);
    fl_buf gz;
    fl_buf_init(&gz, 0);
    gz_member(in.ptr, in.len / 2, &gz); /* two members split mid-line */
    gz_member(in.ptr + in.len / 2, in.len - in.len / 2, &gz);
    write_file(tmp_path("many.ndjson"), in.ptr, in.len);
    write_file(tmp_path("many.ndjson.gz"), gz.ptr, gz.len);
    const char *paths[] = {tmp_path("many.ndjson"), tmp_path("many.ndjson.gz")};
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    for (int mode = 0; mode < 4; mode++) {
        fl_ndjson_reader *r = NULL;
        fl_err err;
        if (mode < 2)
            CHECK(fl_ndjson_open(paths[mode], NULL, &r, &err) == FL_OK);
        else if (mode == 2)
            CHECK(fl_ndjson_open_mem(in.ptr, in.len, NULL, &r, &err) == FL_OK);
        else
            CHECK(fl_ndjson_open_mem(gz.ptr, gz.len, NULL, &r, &err) == FL_OK);
        if (!r) continue;
        int got = 0, bad = 0;
        fl_ndjson_line l;
        fl_rc rc;
        while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) {
            fl_arena_reset(&a);
            fl_json_val *v;
            if (fl_json_parse(l.text.ptr, l.text.len, NULL, &a, &v, NULL, &err)) {
                bad++;
                continue;
            }
            int64_t id = atoll(fl_json_get_c(v, "id")->u.str);
            if (id != got || l.line_no != (uint64_t)got + 1) bad++;
            got++;
        }
        CHECK(rc == FL_E_EOF);
        CHECK_EQ_INT(got, count);
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(fl_ndjson_bytes_read(r), mode == 0 || mode == 2 ? in.len : gz.len);
        fl_ndjson_close(r);
    }
    fl_arena_fini(&a);
    fl_buf_reset(&in);
    fl_buf_reset(&gz);
}

static void test_gzip_errors(void)
{
    const char *text = "{\"a\":1}\n{\"b\":2}\n";
    fl_buf gz;
    fl_buf_init(&gz, 0);
    gz_member(text, strlen(text), &gz);
    fl_ndjson_reader *r;
    fl_err err;
    fl_ndjson_line l;
    /* truncated member */
    CHECK(fl_ndjson_open_mem(gz.ptr, gz.len - 6, NULL, &r, &err) == FL_OK);
    fl_rc rc;
    while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) {
    }
    CHECK(rc == FL_E_COMPRESS);
    CHECK(strstr(err.msg, "truncated gzip") != NULL);
    fl_ndjson_close(r);
    /* corrupt deflate data */
    fl_buf bad;
    fl_buf_init(&bad, 0);
    fl_buf_append(&bad, gz.ptr, gz.len);
    for (size_t i = 12; i < 20 && i < bad.len; i++) bad.ptr[i] ^= 0x5a;
    CHECK(fl_ndjson_open_mem(bad.ptr, bad.len, NULL, &r, &err) == FL_OK);
    while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) {
    }
    CHECK(rc == FL_E_COMPRESS);
    fl_ndjson_close(r);
    /* garbage after a complete member */
    fl_buf_clear(&bad);
    fl_buf_append(&bad, gz.ptr, gz.len);
    fl_buf_append_c(&bad, "junk");
    CHECK(fl_ndjson_open_mem(bad.ptr, bad.len, NULL, &r, &err) == FL_OK);
    int n = 0;
    while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) n++;
    CHECK(rc == FL_E_COMPRESS);
    fl_ndjson_close(r);
    fl_buf_reset(&bad);
    fl_buf_reset(&gz);
    /* missing file */
    CHECK(fl_ndjson_open(tmp_path("nope.ndjson"), NULL, &r, &err) == FL_E_NOT_FOUND);
    CHECK(strstr(err.msg, "nope.ndjson") != NULL);
    CHECK(fl_ndjson_open(NULL, NULL, &r, &err) == FL_E_ARG);
}

static void test_read_file(void)
{
    const char *doc = "{\"resourceType\":\"Bundle\",\"entry\":[]}";
    fl_buf gz;
    fl_buf_init(&gz, 0);
    gz_member(doc, 10, &gz);
    gz_member(doc + 10, strlen(doc) - 10, &gz); /* concatenated members */
    write_file(tmp_path("doc.json.gz"), gz.ptr, gz.len);
    write_file(tmp_path("doc.json"), doc, strlen(doc));
    fl_buf out;
    fl_err err;
    for (int k = 0; k < 2; k++) {
        fl_buf_init(&out, 0);
        CHECK(fl_json_read_file(tmp_path(k ? "doc.json.gz" : "doc.json"), 0, &out, &err) == FL_OK);
        CHECK_EQ_MEM(out.ptr, out.len, doc);
        fl_buf_reset(&out);
        fl_buf_init(&out, 0);
        CHECK(fl_json_read_file(tmp_path(k ? "doc.json.gz" : "doc.json"), 10, &out, &err) == FL_E_LIMIT);
        fl_buf_reset(&out);
    }
    fl_buf_init(&out, 0);
    CHECK(fl_json_read_file(tmp_path("missing.json"), 0, &out, &err) == FL_E_NOT_FOUND);
    fl_buf_reset(&out);
    fl_buf_reset(&gz);
}

/* The bundled sample export: every line of every file is a valid JSON object. */
static void test_bulk_sample(void)
{
    const char *dir = th_path("tests/data/fhir/bulk-100");
    fl_arena names, a;
    fl_arena_init(&names, 0, 0);
    fl_arena_init(&a, 0, 0);
    fl_str *list;
    size_t count;
    fl_err err;
    CHECK(fl_dir_list(dir, &names, &list, &count, &err) == FL_OK);
    long total = 0;
    for (size_t i = 0; i < count; i++) {
        if (!fl_str_ends_with(list[i], FL_STR(".ndjson.gz"))) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)list[i].len, list[i].ptr);
        fl_ndjson_reader *r;
        CHECK(fl_ndjson_open(path, NULL, &r, &err) == FL_OK);
        fl_ndjson_line l;
        fl_rc rc;
        while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) {
            fl_arena_reset(&a);
            fl_json_val *v;
            rc = fl_json_parse(l.text.ptr, l.text.len, NULL, &a, &v, NULL, &err);
            CHECK_MSG(rc == FL_OK, "%s:%llu: %s", path, (unsigned long long)l.line_no, err.msg);
            if (rc == FL_OK) CHECK(fl_json_is_str(fl_json_get_c(v, "resourceType")));
            total++;
        }
        CHECK(rc == FL_E_EOF);
        fl_ndjson_close(r);
    }
    CHECK_EQ_INT(total, 38483); /* tests/data/fhir/bulk-100/counts.json */
    fl_arena_fini(&a);
    fl_arena_fini(&names);
}

static long alloc_count, alloc_fail_at;
static void *t_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (++alloc_count == alloc_fail_at) return NULL;
    return malloc(n);
}
static void *t_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (++alloc_count == alloc_fail_at) return NULL;
    return realloc(p, n);
}
static void t_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Every allocation of open + reading (gzip and plain file) may fail: clean error, no leak. */
static void test_alloc_failures(void)
{
    const char *text = "{\"a\":1}\n{\"b\":2}\n";
    fl_buf gz;
    fl_buf_init(&gz, 0);
    gz_member(text, strlen(text), &gz);
    write_file(tmp_path("af.ndjson"), text, strlen(text));
    fl_alloc alc = {t_malloc, t_realloc, t_free, NULL};
    for (int mode = 0; mode < 2; mode++) {
        bool done = false;
        int failures = 0;
        for (long n = 1; n < 100 && !done; n++) {
            fl_set_allocator(&alc);
            alloc_count = 0;
            alloc_fail_at = n;
            fl_ndjson_reader *r = NULL;
            fl_err err;
            fl_rc rc = mode ? fl_ndjson_open(tmp_path("af.ndjson"), NULL, &r, &err)
                            : fl_ndjson_open_mem(gz.ptr, gz.len, NULL, &r, &err);
            int lines = 0;
            if (rc == FL_OK) {
                fl_ndjson_line l;
                while ((rc = fl_ndjson_next(r, &l, &err)) == FL_OK) lines++;
                fl_ndjson_close(r);
            }
            fl_set_allocator(NULL);
            if (rc == FL_E_EOF) {
                CHECK_EQ_INT(lines, 2);
                done = alloc_count < n;
            } else {
                CHECK_MSG(rc == FL_E_NOMEM, "mode %d fail at %ld: %s", mode, n, fl_rc_name(rc));
                failures++;
            }
        }
        CHECK(done);
        CHECK(failures >= (mode ? 2 : 4)); /* gzip: reader, path, input chunk, zlib state, window */
    }
    fl_buf_reset(&gz);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fl_test_ndjson_%d", (int)getpid());
    fl_err err;
    fl_mkdir_p(tmpdir, &err);
    RUN(test_lines);
    RUN(test_offsets);
    RUN(test_long_lines);
    RUN(test_many_lines);
    RUN(test_gzip_errors);
    RUN(test_read_file);
    RUN(test_bulk_sample);
    RUN(test_alloc_failures);
    fl_rm_rf(tmpdir, &err);
    return testhelp_done();
}
