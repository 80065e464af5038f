/* engine_input.c - export inputs (module engine): resolving paths, Bulk Data folders and
 * their manifest.json (output[] and deleted[] entries), the default export id (a hash of
 * the resolved inputs' paths, sizes and mtimes plus the views and the mode), and the
 * reader threads that split files into line chunks for the workers. Paths enter the id as
 * absolute paths (realpath), so the same export run from another directory is the same.
 * Readers take whole files in order from a shared counter; a chunk holds about
 * ENG_CHUNK_BYTES of lines and comes from a fixed pool, so reading never runs ahead of
 * the workers by more than the pool. */
#include "engine/engine_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static fl_rc add_file(eng_state *es, const char *path, bool deleted, fl_err *err)
{
    if (es->n_files >= FL_ENGINE_MAX_INPUTS)
        return fl_err_set(err, FL_E_LIMIT, "more than %u input files", FL_ENGINE_MAX_INPUTS);
    if (es->n_files % 64 == 0) {
        eng_file *nf = fl_realloc(es->files, (es->n_files + 64) * sizeof *nf);
        if (!nf) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        es->files = nf;
    }
    eng_file *f = &es->files[es->n_files];
    memset(f, 0, sizeof *f);
    f->path = fl_strndup(path, strlen(path));
    if (!f->path) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    f->deleted = deleted;
    if (strcmp(path, "-") != 0) {
        bool is_dir = false;
        uint64_t size = 0;
        if (!fl_path_exists(path, &is_dir, &size) || is_dir) {
            fl_free(f->path);
            return fl_err_set(err, FL_E_NOT_FOUND, "%s: no such input file", path);
        }
        f->size = size;
        es->bytes_total += size;
    }
    es->n_files++;
    return FL_OK;
}

static bool is_ndjson_name(fl_str n)
{
    return fl_str_ends_with(n, FL_STR(".ndjson")) || fl_str_ends_with(n, FL_STR(".ndjson.gz")) ||
           fl_str_ends_with(n, FL_STR(".jsonl")) || fl_str_ends_with(n, FL_STR(".jsonl.gz"));
}

/* The local file a manifest url names: the last path segment of an absolute URL, or the
 * relative path, inside dir. */
static fl_rc manifest_entry(eng_state *es, const char *dir, const fl_json_val *item, bool deleted, const char *mpath,
                            fl_err *err)
{
    fl_str url = fl_json_str(fl_json_get_c(item, "url"));
    if (!url.len) return fl_err_set(err, FL_E_CORRUPT, "%s: an output entry has no url", mpath);
    fl_str name = url;
    bool absolute = false;
    for (size_t i = 0; i + 2 < url.len && !absolute; i++)
        absolute = url.ptr[i] == ':' && url.ptr[i + 1] == '/' && url.ptr[i + 2] == '/';
    if (absolute) {
        const char *slash = url.ptr + url.len;
        while (slash > url.ptr && slash[-1] != '/') slash--;
        name = fl_str_make(slash, (size_t)(url.ptr + url.len - slash));
    }
    for (size_t i = 0; i + 1 < name.len; i++)
        if (name.ptr[i] == '.' && name.ptr[i + 1] == '.')
            return fl_err_set(err, FL_E_CORRUPT, "%s: url '" FL_STR_FMT "' leaves the folder", mpath, FL_STR_ARG(url));
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/" FL_STR_FMT, dir, FL_STR_ARG(name));
    if (n < 0 || (size_t)n >= sizeof path) return fl_err_set(err, FL_E_LIMIT, "%s: path too long", mpath);
    fl_rc rc = add_file(es, path, deleted, err);
    if (rc == FL_E_NOT_FOUND) fl_err_prefix(err, "%s lists a file that is missing: ", mpath);
    return rc;
}

static fl_rc add_manifest(eng_state *es, const char *dir, const char *mpath, fl_err *err)
{
    fl_buf text;
    fl_buf_init(&text, 0);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_rc rc = fl_json_read_file(mpath, (size_t)64 << 20, &text, err);
    fl_json_val *doc = NULL;
    if (rc == FL_OK) rc = fl_json_parse(text.ptr ? text.ptr : "", text.len, NULL, &a, &doc, NULL, err);
    if (rc) {
        fl_err_prefix(err, "%s: ", mpath);
        goto done;
    }
    static const char *const keys[2] = {"output", "deleted"};
    for (int k = 0; k < 2 && rc == FL_OK; k++) {
        const fl_json_val *arr = fl_json_get_c(doc, keys[k]);
        if (!arr) continue;
        if (!fl_json_is_arr(arr)) {
            rc = fl_err_set(err, FL_E_CORRUPT, "%s: '%s' is not an array", mpath, keys[k]);
            break;
        }
        for (uint32_t i = 0; i < arr->len && rc == FL_OK; i++)
            rc = manifest_entry(es, dir, &arr->u.items[i], k == 1, mpath, err);
    }
done:
    fl_arena_fini(&a);
    fl_buf_reset(&text);
    return rc;
}

static fl_rc add_dir(eng_state *es, const char *dir, fl_err *err)
{
    char mpath[4096];
    int n = snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    if (n < 0 || (size_t)n >= sizeof mpath) return fl_err_set(err, FL_E_LIMIT, "%s: path too long", dir);
    bool is_dir = false;
    if (fl_path_exists(mpath, &is_dir, NULL) && !is_dir) return add_manifest(es, dir, mpath, err);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str *names = NULL;
    size_t count = 0;
    fl_rc rc = fl_dir_list(dir, &a, &names, &count, err);
    size_t before = es->n_files;
    for (size_t i = 0; rc == FL_OK && i < count; i++) {
        if (!is_ndjson_name(names[i])) continue;
        n = snprintf(mpath, sizeof mpath, "%s/" FL_STR_FMT, dir, FL_STR_ARG(names[i]));
        if (n < 0 || (size_t)n >= sizeof mpath) rc = fl_err_set(err, FL_E_LIMIT, "%s: path too long", dir);
        else rc = add_file(es, mpath, false, err);
    }
    if (rc == FL_OK && es->n_files == before)
        rc = fl_err_set(err, FL_E_NOT_FOUND, "%s: no manifest.json and no *.ndjson[.gz] files", dir);
    fl_arena_fini(&a);
    return rc;
}

fl_rc eng_inputs_resolve(eng_state *es, fl_err *err)
{
    const fl_engine_export_opts *o = es->o;
    for (size_t i = 0; i < o->n_inputs; i++) {
        const char *in = o->inputs[i];
        bool is_dir = false;
        fl_rc rc;
        if (!strcmp(in, "-")) rc = add_file(es, in, false, err);
        else if (!fl_path_exists(in, &is_dir, NULL)) rc = fl_err_set(err, FL_E_NOT_FOUND, "%s: no such file or directory", in);
        else if (is_dir) rc = add_dir(es, in, err);
        else rc = add_file(es, in, false, err);
        if (rc) return rc;
    }
    if (es->n_files == 0) return fl_err_set(err, FL_E_ARG, "no input");
    return FL_OK;
}

void eng_inputs_free(eng_state *es)
{
    for (size_t i = 0; i < es->n_files; i++) fl_free(es->files[i].path);
    fl_free(es->files);
    es->files = NULL;
    es->n_files = 0;
}

/* ------------------------------------------------------------------ export id */

typedef struct fnv2 {
    uint64_t a, b;
} fnv2;

static void fnv_add(fnv2 *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ s[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ s[i]) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    }
    unsigned char sep = 0xff; /* field separator */
    h->a = (h->a ^ sep) * 0x100000001b3ULL;
    h->b = (h->b ^ sep) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
}

fl_rc eng_export_id(const eng_state *es, char out[72], fl_err *err)
{
    const fl_engine_export_opts *o = es->o;
    fnv2 h = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
    int64_t params[4] = {(int64_t)o->mode, (int64_t)o->format, o->has_since ? o->since_us : INT64_MIN,
                         (int64_t)o->deletes_flag};
    fnv_add(&h, params, sizeof params);
    bool random = false;
    for (size_t i = 0; i < es->n_files; i++) {
        const eng_file *f = &es->files[i];
        char real[PATH_MAX];
        /* the absolute path, so a rerun from another directory is the same export */
        const char *id_path = strcmp(f->path, "-") && realpath(f->path, real) ? real : f->path;
        fnv_add(&h, id_path, strlen(id_path));
        if (!strcmp(f->path, "-")) {
            random = true; /* stdin has no identity: every run is a new export */
            continue;
        }
        struct stat sb;
        int64_t meta[3] = {(int64_t)f->size, 0, f->deleted};
        if (stat(f->path, &sb) == 0) meta[1] = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        fnv_add(&h, meta, sizeof meta);
    }
    fl_buf text;
    fl_buf_init(&text, 0);
    for (size_t i = 0; i < o->n_views; i++) {
        fl_buf_clear(&text);
        fl_rc rc = fl_file_read(o->views[i], FL_VIEW_MAX_VIEW_BYTES, &text, err);
        if (rc) {
            fl_buf_reset(&text);
            return rc;
        }
        fnv_add(&h, text.ptr ? text.ptr : "", text.len);
    }
    fl_buf_reset(&text);
    if (random) {
        uint64_t r = fl_random_u64();
        fnv_add(&h, &r, sizeof r);
    }
    snprintf(out, 72, "%016llx%016llx", (unsigned long long)h.a, (unsigned long long)h.b);
    return FL_OK;
}

/* ------------------------------------------------------------------ reader threads */

static eng_chunk *take_chunk(eng_state *es, uint32_t file)
{
    eng_chunk *c = eng_queue_pop(&es->chunk_free);
    if (!c) return NULL;
    c->file = file;
    fl_buf_clear(&c->text);
    c->lines.len = 0;
    return c;
}

static bool read_file(eng_state *es, uint32_t idx)
{
    const eng_file *f = &es->files[idx];
    fl_err err;
    fl_ndjson_reader *r = NULL;
    fl_ndjson_opts no = {.max_line = ENG_MAX_LINE};
    fl_rc rc = fl_ndjson_open(f->path, &no, &r, &err);
    if (rc) {
        fl_err_prefix(&err, "%s: ", f->path);
        eng_fail(es, rc, &err);
        return false;
    }
    eng_chunk *c = take_chunk(es, idx);
    uint64_t seen = 0;
    bool ok = c != NULL;
    while (ok && !atomic_load(&es->stop)) {
        fl_ndjson_line line;
        rc = fl_ndjson_next(r, &line, &err);
        if (rc == FL_E_EOF) break;
        if (rc == FL_E_LIMIT) {
            atomic_fetch_add(&es->lines, 1);
            eng_bad_line(es, idx, line.line_no, rc, err.msg, FL_STR_NULL);
            continue;
        }
        if (rc) {
            fl_err_prefix(&err, "%s: ", f->path);
            eng_fail(es, rc, &err);
            ok = false;
            break;
        }
        eng_line *ln = fl_vec_push_zero(&c->lines);
        if (!ln || fl_buf_append_str(&c->text, line.text) != FL_OK) {
            fl_err_set(&err, FL_E_NOMEM, "out of memory reading %s", f->path);
            eng_fail(es, FL_E_NOMEM, &err);
            ok = false;
            break;
        }
        ln->off = c->text.len - line.text.len;
        ln->len = line.text.len;
        ln->line_no = line.line_no;
        if (c->text.len >= ENG_CHUNK_BYTES) {
            uint64_t now = fl_ndjson_bytes_read(r);
            atomic_fetch_add(&es->bytes_read, now - seen);
            seen = now;
            if (!eng_queue_push(&es->work_q, c)) {
                c = NULL;
                ok = false;
                break;
            }
            c = take_chunk(es, idx);
            ok = c != NULL;
        }
    }
    if (c) {
        if (ok && c->lines.len) {
            if (!eng_queue_push(&es->work_q, c)) ok = false;
        } else {
            eng_queue_push(&es->chunk_free, c);
        }
    }
    uint64_t now = fl_ndjson_bytes_read(r);
    atomic_fetch_add(&es->bytes_read, now - seen);
    fl_ndjson_close(r);
    atomic_fetch_add(&es->files_done, 1);
    return ok;
}

void *eng_reader_main(void *arg)
{
    eng_state *es = arg;
    for (;;) {
        if (atomic_load(&es->stop)) break;
        size_t idx = atomic_fetch_add(&es->next_file, 1);
        if (idx >= es->n_files) break;
        if (!read_file(es, (uint32_t)idx)) break;
    }
    if (atomic_fetch_sub(&es->readers_left, 1) == 1) eng_queue_close(&es->work_q);
    return NULL;
}
