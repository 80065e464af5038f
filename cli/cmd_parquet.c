/* cmd_parquet.c - `fhirlake parquet schema|cat|meta FILE` (cli/): inspect a Parquet file.
 * cat prints one canonical JSON line per row (fl_pq_format_row), optionally projected
 * with --columns a,b.c; meta prints row groups, codecs and column statistics as JSON.
 * Used by the interop tests to compare fhirlake's reading with pyarrow's and DuckDB's. */
#include "cli.h"
#include "fhirlake/parquet.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: fhirlake parquet schema FILE\n"
               "       fhirlake parquet cat [--columns a,b.c] [--limit N] FILE\n"
               "       fhirlake parquet meta FILE\n");
}

static const char *phys_name(fl_pq_phys p)
{
    static const char *names[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                                  "FIXED_LEN_BYTE_ARRAY"};
    return p == FL_PQ_GROUP ? "group" : (unsigned)p < 8 ? names[p] : "?";
}

static const char *logical_name(const fl_pq_type *t)
{
    static const char *names[] = {"", "STRING", "ENUM", "JSON", "UUID", "DATE", "TIME", "TIMESTAMP", "INT",
                                  "DECIMAL", "FLOAT16", "LIST", "MAP", "UNKNOWN"};
    return (unsigned)t->logical < sizeof names / sizeof names[0] ? names[t->logical] : "?";
}

static int do_schema(const fl_pq_reader *r)
{
    const fl_pq_schema *s = fl_pq_reader_get_schema(r);
    static const char *reps[] = {"required", "optional", "repeated"};
    for (int i = 0; i < fl_pq_schema_num_nodes(s); i++) {
        const fl_pq_node *n = fl_pq_schema_node(s, i);
        int depth = 0;
        for (int a = n->parent; a >= 0; a = fl_pq_schema_node(s, a)->parent) depth++;
        printf("%*s%s %s %s", depth * 2, "", reps[n->rep], phys_name(n->type.phys), n->name);
        if (n->type.logical) printf(" (%s", logical_name(&n->type));
        if (n->type.logical == FL_PQ_LT_DECIMAL) printf("(%d,%d)", n->type.precision, n->type.scale);
        if (n->type.logical == FL_PQ_LT_INT) printf("(%d,%s)", n->type.bit_width, n->type.is_signed ? "signed" : "unsigned");
        if (n->type.logical == FL_PQ_LT_TIMESTAMP || n->type.logical == FL_PQ_LT_TIME)
            printf("(%s,%s)", n->type.adjusted_utc ? "utc" : "local",
                   n->type.unit == FL_PQ_UNIT_MILLIS ? "ms" : n->type.unit == FL_PQ_UNIT_MICROS ? "us" : "ns");
        if (n->type.logical) printf(")");
        if (n->leaf >= 0) printf(" [leaf %d, def %d, rep %d]", n->leaf, n->max_def, n->max_rep);
        printf("\n");
    }
    fl_str cb = fl_pq_reader_created_by(r);
    printf("rows: %" PRId64 ", row groups: %d, created_by: %.*s\n", fl_pq_reader_num_rows(r),
           fl_pq_reader_num_row_groups(r), (int)cb.len, cb.ptr ? cb.ptr : "");
    return CLI_OK;
}

static void print_scalar(const fl_pq_schema *s, int node, const fl_pq_scalar *sc, fl_buf *b)
{
    fl_pq_val v;
    memset(&v, 0, sizeof v);
    switch (sc->phys) {
    case FL_PQ_BOOLEAN: v.kind = FL_PQ_V_BOOL; v.v.b = sc->v.b; break;
    case FL_PQ_INT32: v.kind = FL_PQ_V_I32; v.v.i32 = sc->v.i32; break;
    case FL_PQ_INT64: case FL_PQ_INT96: v.kind = FL_PQ_V_I64; v.v.i64 = sc->v.i64; break;
    case FL_PQ_FLOAT: v.kind = FL_PQ_V_F32; v.v.f32 = sc->v.f32; break;
    case FL_PQ_DOUBLE: v.kind = FL_PQ_V_F64; v.v.f64 = sc->v.f64; break;
    default: v.kind = FL_PQ_V_BYTES; v.v.bytes = sc->v.bytes; break;
    }
    fl_pq_format_value(s, node, &v, b);
}

static int do_meta(const fl_pq_reader *r)
{
    const fl_pq_schema *s = fl_pq_reader_get_schema(r);
    fl_buf b;
    fl_buf_init(&b, 0);
    for (int g = 0; g < fl_pq_reader_num_row_groups(r); g++) {
        for (int l = 0; l < fl_pq_schema_num_leaves(s); l++) {
            fl_pq_stats st;
            fl_err err;
            fl_pq_reader_get_rg_stats(r, g, l, &st, &err);
            char path[512];
            fl_pq_schema_path(s, fl_pq_schema_leaf_node(s, l), path, sizeof path);
            fl_buf_clear(&b);
            fl_buf_printf(&b, "{\"row_group\":%d,\"rows\":%" PRId64 ",\"column\":\"%s\",\"codec\":\"%s\",\"num_values\":%" PRId64
                              ",\"null_count\":%" PRId64,
                          g, fl_pq_reader_rg_num_rows(r, g), path, fl_pq_reader_codec_name(r, g, l), st.num_values,
                          st.null_count);
            if (st.has_min_max) {
                fl_buf_append_c(&b, ",\"min\":");
                print_scalar(s, fl_pq_schema_leaf_node(s, l), &st.min, &b);
                fl_buf_append_c(&b, ",\"max\":");
                print_scalar(s, fl_pq_schema_leaf_node(s, l), &st.max, &b);
            }
            fl_buf_append_c(&b, "}");
            printf("%s\n", b.ptr);
        }
    }
    fl_buf_reset(&b);
    return CLI_OK;
}

static int do_cat(fl_pq_reader *r, const char *columns, long long limit)
{
    fl_err err;
    fl_err_clear(&err);
    const char *paths[256];
    size_t np = 0;
    char *cols = NULL;
    if (columns) {
        cols = strdup(columns);
        if (!cols) return CLI_FAILED;
        for (char *p = strtok(cols, ","); p && np < 256; p = strtok(NULL, ",")) paths[np++] = p;
    }
    fl_rc rc = fl_pq_reader_select(r, np ? paths : NULL, np, &err);
    if (rc) {
        cli_report("parquet cat", rc, &err);
        free(cols);
        return CLI_FAILED;
    }
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf b;
    fl_buf_init(&b, 0);
    long long n = 0;
    int status = CLI_OK;
    for (;;) {
        if (limit >= 0 && n >= limit) break;
        fl_pq_val *row;
        rc = fl_pq_reader_next_row(r, &a, &row, &err);
        if (rc == FL_E_EOF) break;
        if (rc) {
            cli_report("parquet cat", rc, &err);
            status = CLI_FAILED;
            break;
        }
        fl_buf_clear(&b);
        fl_pq_format_row(fl_pq_reader_get_schema(r), row, &b);
        fwrite(b.ptr, 1, b.len, stdout);
        fputc('\n', stdout);
        fl_arena_reset(&a);
        n++;
    }
    fl_buf_reset(&b);
    fl_arena_fini(&a);
    free(cols);
    return status;
}

int cmd_parquet(int argc, char **argv)
{
    if (argc < 2 || cli_is_opt(argv[1], "--help", "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *action = argv[1];
    const char *file = NULL, *columns = NULL;
    long long limit = -1;
    for (int i = 2; i < argc; i++) {
        if (cli_is_opt(argv[i], "--columns", NULL)) {
            if (!(columns = cli_opt_value(argc, argv, &i, "--columns"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--limit", NULL)) {
            const char *v = cli_opt_value(argc, argv, &i, "--limit");
            if (!v) return CLI_USAGE;
            limit = strtoll(v, NULL, 10);
        } else if (!file) {
            file = argv[i];
        } else {
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (!file || (strcmp(action, "schema") && strcmp(action, "cat") && strcmp(action, "meta"))) {
        usage(stderr);
        return CLI_USAGE;
    }
    fl_err err;
    fl_err_clear(&err);
    fl_pq_reader *r;
    fl_rc rc = fl_pq_reader_open_file(file, NULL, &r, &err);
    if (rc) {
        cli_report("parquet", rc, &err);
        return CLI_FAILED;
    }
    int status;
    if (!strcmp(action, "schema")) status = do_schema(r);
    else if (!strcmp(action, "meta")) status = do_meta(r);
    else status = do_cat(r, columns, limit);
    fl_pq_reader_free(r);
    return status;
}
