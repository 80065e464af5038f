/* store_file.c - the local-directory object-store driver "file" (module store).
 * Keys map to files under the root directory. Object-store semantics on POSIX:
 *  - every put writes a hidden temp file ".fl-tmp-<uuid>" in the target directory,
 *    fsyncs it, then rename(2)s it into place (replace) or link(2)s it (put-if-absent,
 *    EEXIST = FL_E_EXISTS), then fsyncs the directory: a crash leaves the old state or
 *    the new one, never a torn or half-named object (at worst a stray temp file);
 *  - listings are recursive, in bytewise key order (a directory sorts as "name/"), and
 *    skip temp files.
 * Uses POSIX calls directly (open/pread/link/rename/fstatat); see docs/internals/STORE.md. */
#define _GNU_SOURCE
#include "store/store_int.h"

#include "fhirlake/os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_TMP_PREFIX ".fl-tmp-"
#define FILE_MAX_PATH 4096
#define FILE_MAX_DEPTH 128 /* directory nesting followed by list */

typedef struct file_store {
    char root[FILE_MAX_PATH]; /* without trailing '/', "" = current dir */
    size_t root_len;
} file_store;

static fl_rc file_sys_err(fl_err *err, int e, const char *what, const char *path)
{
    fl_rc code = e == ENOENT || e == ENOTDIR ? FL_E_NOT_FOUND
               : e == EEXIST                 ? FL_E_EXISTS
               : e == ENOMEM                 ? FL_E_NOMEM
               : e == EACCES || e == EPERM   ? FL_E_STORE_AUTH
                                             : FL_E_IO;
    fl_rc rc = fl_err_set(err, code, "%s %s: %s", what, path, strerror(e));
    /* interrupted or resource-starved calls may work on a second try */
    if (err && (e == EINTR || e == EAGAIN || e == EMFILE || e == ENFILE)) err->flags |= FL_ERR_RETRIABLE;
    return rc;
}

static fl_rc full_path(const file_store *fs, fl_str key, char *out, fl_err *err)
{
    int n;
    if (key.len == 0) n = snprintf(out, FILE_MAX_PATH, "%s", fs->root_len ? fs->root : ".");
    else if (fs->root_len == 0) n = snprintf(out, FILE_MAX_PATH, FL_STR_FMT, FL_STR_ARG(key));
    else if (fs->root_len == 1 && fs->root[0] == '/') n = snprintf(out, FILE_MAX_PATH, "/" FL_STR_FMT, FL_STR_ARG(key));
    else n = snprintf(out, FILE_MAX_PATH, "%s/" FL_STR_FMT, fs->root, FL_STR_ARG(key));
    if (n < 0 || n >= FILE_MAX_PATH) return fl_err_set(err, FL_E_LIMIT, "path too long under %s", fs->root);
    return FL_OK;
}

/* Split path into directory (written to dir) and return a pointer to the base name. */
static const char *split_dir(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, FILE_MAX_PATH, ".");
        return path;
    }
    if (slash == path) snprintf(dir, FILE_MAX_PATH, "/");
    else snprintf(dir, FILE_MAX_PATH, "%.*s", (int)(slash - path), path);
    return slash + 1;
}

static fl_rc fsync_dir(const char *dir, fl_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return file_sys_err(err, errno, "cannot open directory", dir);
    fl_rc rc = FL_OK;
    if (fsync(fd) != 0 && errno != EINVAL) rc = file_sys_err(err, errno, "cannot fsync directory", dir);
    close(fd);
    return rc;
}

/* mkdir -p dir; when directories were created and sync is on, fsync the parent of each
 * new directory (up to the deepest one that existed) so the new entries survive a crash. */
static fl_rc ensure_dir(const char *dir, bool sync, fl_err *err)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return FL_OK;
    char existing[FILE_MAX_PATH], cur[FILE_MAX_PATH];
    snprintf(existing, sizeof existing, "%s", dir);
    for (int guard = 0; guard < FILE_MAX_DEPTH; guard++) {
        char parent[FILE_MAX_PATH];
        split_dir(existing, parent);
        snprintf(existing, sizeof existing, "%s", parent);
        if (stat(existing, &st) == 0 || !strcmp(existing, ".") || !strcmp(existing, "/")) break;
    }
    fl_rc rc = fl_mkdir_p(dir, err);
    if (rc || !sync) return rc;
    snprintf(cur, sizeof cur, "%s", dir);
    for (int guard = 0; guard < FILE_MAX_DEPTH; guard++) {
        char parent[FILE_MAX_PATH];
        split_dir(cur, parent);
        if ((rc = fsync_dir(parent, err)) != FL_OK) return rc;
        if (!strcmp(parent, existing) || !strcmp(parent, ".") || !strcmp(parent, "/")) break;
        snprintf(cur, sizeof cur, "%s", parent);
    }
    return FL_OK;
}

static fl_rc file_open(const fl_store_url *url, const fl_store_opts *opts, void **impl, fl_err *err)
{
    (void)opts;
    size_t n = url->path.len;
    while (n > 1 && url->path.ptr[n - 1] == '/') n--;
    if (n == 1 && url->path.ptr[0] == '.') n = 0;
    if (n >= FILE_MAX_PATH - FL_STORE_MAX_KEY - 64) return fl_err_set(err, FL_E_LIMIT, "store root path too long");
    file_store *fs = fl_calloc(1, sizeof *fs);
    if (!fs) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    memcpy(fs->root, url->path.ptr, n);
    fs->root[n] = 0;
    fs->root_len = n;
    *impl = fs;
    return FL_OK;
}

static void file_close(void *impl) { fl_free(impl); }

static fl_rc file_get(void *impl, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_store_meta *meta,
                      fl_err *err)
{
    char path[FILE_MAX_PATH];
    fl_rc rc = full_path(impl, key, path, err);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return file_sys_err(err, errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = file_sys_err(err, errno, "cannot stat", path);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = fl_err_set(err, FL_E_NOT_FOUND, "%s is a directory, not an object", path);
        goto done;
    }
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = (uint64_t)st.st_size;
        meta->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (off >= size) goto done;
    uint64_t want = size - off;
    if (len < want) want = len;
    if (want > SIZE_MAX / 2) {
        rc = fl_err_set(err, FL_E_LIMIT, "%s: range too large", path);
        goto done;
    }
    if ((rc = fl_buf_reserve(out, (size_t)want)) != FL_OK) {
        fl_err_set(err, rc, "cannot read %s (%llu bytes): %s", path, (unsigned long long)want,
                   rc == FL_E_LIMIT ? "over the size limit" : fl_rc_str(rc));
        goto done;
    }
    uint64_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, out->ptr + out->len, (size_t)(want - got), (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = file_sys_err(err, errno, "cannot read", path);
            goto done;
        }
        if (n == 0) break; /* file shrank under us */
        got += (uint64_t)n;
        out->len += (size_t)n;
    }
    out->ptr[out->len] = 0;
done:
    close(fd);
    return rc;
}

static fl_rc write_all(int fd, const void *data, size_t len, const char *path, fl_err *err)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return file_sys_err(err, errno, "cannot write", path);
        }
        p += n;
        len -= (size_t)n;
    }
    return FL_OK;
}

/* Create a temp file next to path; its name goes to tmp. */
static fl_rc open_temp(const char *path, bool sync, char *tmp, int *fd_out, fl_err *err)
{
    char dir[FILE_MAX_PATH];
    split_dir(path, dir);
    fl_rc rc = ensure_dir(dir, sync, err);
    if (rc) return rc;
    char uuid[37];
    fl_uuid4(uuid);
    int n = snprintf(tmp, FILE_MAX_PATH, "%s/" FILE_TMP_PREFIX "%s", dir, uuid);
    if (n < 0 || n >= FILE_MAX_PATH) return fl_err_set(err, FL_E_LIMIT, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return file_sys_err(err, errno, "cannot create", tmp);
    *fd_out = fd;
    return FL_OK;
}

/* fsync+close the temp file, then publish it under path (link for if-absent, else rename)
 * and fsync the directory. The temp file is gone afterwards whatever happens. */
static fl_rc publish(int fd, const char *tmp, const char *path, uint32_t flags, fl_err *err)
{
    bool sync = !(flags & FL_STORE_NO_SYNC);
    fl_rc rc = FL_OK;
    if (sync && fsync(fd) != 0) rc = file_sys_err(err, errno, "cannot fsync", tmp);
    if (close(fd) != 0 && !rc) rc = file_sys_err(err, errno, "cannot close", tmp);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (flags & FL_STORE_IF_ABSENT) {
        if (link(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            if (e == EEXIST) return fl_err_set(err, FL_E_EXISTS, "%s already exists", path);
            return file_sys_err(err, e, "cannot link", path);
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return file_sys_err(err, e, "cannot rename into", path);
    }
    if (!sync) return FL_OK;
    char dir[FILE_MAX_PATH];
    split_dir(path, dir);
    return fsync_dir(dir, err);
}

static fl_rc file_put(void *impl, fl_str key, const void *data, size_t len, uint32_t flags, fl_err *err)
{
    file_store *fs = impl;
    char path[FILE_MAX_PATH], tmp[FILE_MAX_PATH];
    fl_rc rc = full_path(fs, key, path, err);
    if (rc) return rc;
    int fd = -1;
    if ((rc = open_temp(path, !(flags & FL_STORE_NO_SYNC), tmp, &fd, err)) != FL_OK) return rc;
    if ((rc = write_all(fd, data, len, tmp, err)) != FL_OK) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    return publish(fd, tmp, path, flags, err);
}

static fl_rc file_head(void *impl, fl_str key, fl_store_meta *meta, fl_err *err)
{
    char path[FILE_MAX_PATH];
    fl_rc rc = full_path(impl, key, path, err);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) != 0) return file_sys_err(err, errno, "cannot stat", path);
    if (S_ISDIR(st.st_mode)) return fl_err_set(err, FL_E_NOT_FOUND, "%s is a directory, not an object", path);
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = (uint64_t)st.st_size;
        meta->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        snprintf(meta->etag, sizeof meta->etag, "%llx-%llx-%llx", (unsigned long long)st.st_ino,
                 (unsigned long long)st.st_size,
                 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    }
    return FL_OK;
}

static fl_rc file_del(void *impl, const fl_str *keys, size_t n, fl_err *err)
{
    char path[FILE_MAX_PATH];
    for (size_t i = 0; i < n; i++) {
        fl_rc rc = full_path(impl, keys[i], path, err);
        if (rc) return rc;
        if (unlink(path) != 0 && errno != ENOENT) return file_sys_err(err, errno, "cannot delete", path);
    }
    return FL_OK;
}

/* ------------------------------------------------------------------ listing */

typedef struct dirent_rec {
    size_t name_off, name_len;
    bool is_dir;
    uint64_t size;
    int64_t mtime_ms;
} dirent_rec;

typedef struct list_walk {
    const file_store *fs;
    fl_str start_after;
    uint32_t flags;
    fl_store_list_fn fn;
    void *ctx;
    char key[FILE_MAX_PATH]; /* key being built */
    fl_buf *names;           /* shared scratch; per-level slices are appended and trimmed */
} list_walk;

/* Order of two entries as keys: a directory compares as "name/". */
static int rec_cmp(const char *base, const dirent_rec *a, const dirent_rec *b)
{
    size_t na = a->name_len, nb = b->name_len;
    size_t m = na < nb ? na : nb;
    int c = memcmp(base + a->name_off, base + b->name_off, m);
    if (c) return c;
    unsigned ca = na > m ? (unsigned char)base[a->name_off + m] : a->is_dir ? '/' : 0;
    unsigned cb = nb > m ? (unsigned char)base[b->name_off + m] : b->is_dir ? '/' : 0;
    if (na == nb && a->is_dir == b->is_dir) return 0;
    if (ca != cb) return ca < cb ? -1 : 1;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

static void rec_insertion_sort(const char *base, dirent_rec *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        dirent_rec x = v[i];
        size_t j = i;
        while (j > 0 && rec_cmp(base, &v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void rec_sort(const char *base, dirent_rec *v, size_t n)
{
    /* insertion sort for small runs, merge via recursion otherwise (no qsort context arg) */
    if (n < 2) return;
    if (n <= 16) {
        rec_insertion_sort(base, v, n);
        return;
    }
    size_t h = n / 2;
    rec_sort(base, v, h);
    rec_sort(base, v + h, n - h);
    /* in-place merge with a temp copy of the left half */
    dirent_rec *tmp = fl_malloc(h * sizeof *tmp);
    if (!tmp) { /* degrade to insertion sort; still correct */
        rec_insertion_sort(base, v, n);
        return;
    }
    memcpy(tmp, v, h * sizeof *tmp);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = rec_cmp(base, &tmp[i], &v[j]) <= 0 ? tmp[i++] : v[j++];
    while (i < h) v[k++] = tmp[i++];
    fl_free(tmp);
}

/* key (len klen) is a directory "key/": can anything under it be > start_after? */
static bool subtree_after(const list_walk *w, size_t klen)
{
    fl_str sa = w->start_after;
    if (sa.len == 0) return true;
    /* every key under it starts with key+"/"; it is all <= sa only if key+"/"+anything < sa,
       i.e. key+"/" < sa and sa does not start with key+"/" */
    size_t m = klen + 1 < sa.len ? klen + 1 : sa.len;
    int c = memcmp(w->key, sa.ptr, m);
    if (c > 0) return true;
    if (c < 0) return false;
    return true; /* sa starts with key+"/" (or is a prefix of it) */
}

static fl_rc walk_dir(list_walk *w, size_t klen, fl_str name_prefix, int depth, fl_err *err)
{
    if (depth > FILE_MAX_DEPTH) return fl_err_set(err, FL_E_LIMIT, "directory nesting deeper than %d", FILE_MAX_DEPTH);
    char dirpath[FILE_MAX_PATH];
    fl_rc rc = full_path(w->fs, fl_str_make(w->key, klen), dirpath, err);
    if (rc) return rc;
    DIR *d = opendir(dirpath);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR) return FL_OK;
        return file_sys_err(err, errno, "cannot list", dirpath);
    }
    int dfd = dirfd(d);
    size_t names0 = w->names->len;
    fl_vec recs;
    fl_vec_init(&recs, sizeof(dirent_rec));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (!strncmp(nm, FILE_TMP_PREFIX, sizeof FILE_TMP_PREFIX - 1)) continue;
        size_t nl = strlen(nm);
        if (!fl_str_starts_with(fl_str_make(nm, nl), name_prefix)) continue;
        struct stat st;
        if (fstatat(dfd, nm, &st, 0) != 0) continue; /* vanished or dangling link */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
        dirent_rec *r = fl_vec_push_zero(&recs);
        if (!r || fl_buf_append(w->names, nm, nl)) {
            rc = fl_err_set(err, FL_E_NOMEM, "out of memory listing %s", dirpath);
            goto done;
        }
        r->name_off = w->names->len - nl;
        r->name_len = nl;
        r->is_dir = S_ISDIR(st.st_mode);
        r->size = (uint64_t)st.st_size;
        r->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    closedir(d);
    d = NULL;
    rec_sort(w->names->ptr, recs.ptr, recs.len);
    for (size_t i = 0; i < recs.len; i++) {
        dirent_rec *r = &FL_VEC_AT(&recs, dirent_rec, i);
        size_t nl = klen + r->name_len;
        if (nl + 2 >= sizeof w->key || nl + 1 > FL_STORE_MAX_KEY) continue; /* unaddressable name */
        memcpy(w->key + klen, w->names->ptr + r->name_off, r->name_len);
        if (r->is_dir) {
            if (w->flags & FL_STORE_LIST_NO_RECURSE) {
                w->key[nl] = '/';
                fl_str k = fl_str_make(w->key, nl + 1);
                if (w->start_after.len && fl_str_cmp(k, w->start_after) <= 0) continue;
                fl_store_entry e = {.key = k, .is_prefix = true, .mtime_ms = r->mtime_ms};
                if ((rc = w->fn(w->ctx, &e, err)) != FL_OK) goto done;
                continue;
            }
            w->key[nl] = '/';
            if (!subtree_after(w, nl)) continue;
            if ((rc = walk_dir(w, nl + 1, FL_STR_NULL, depth + 1, err)) != FL_OK) goto done;
            continue;
        }
        fl_str k = fl_str_make(w->key, nl);
        if (w->start_after.len && fl_str_cmp(k, w->start_after) <= 0) continue;
        fl_store_entry e = {.key = k, .size = r->size, .mtime_ms = r->mtime_ms};
        if ((rc = w->fn(w->ctx, &e, err)) != FL_OK) goto done;
    }
done:
    if (d) closedir(d);
    fl_vec_reset(&recs);
    w->names->len = names0;
    return rc;
}

static fl_rc file_list(void *impl, fl_str prefix, fl_str start_after, uint32_t flags, fl_store_list_fn fn,
                       void *ctx, fl_err *err)
{
    list_walk *w = fl_calloc(1, sizeof *w);
    if (!w) return fl_err_set(err, FL_E_NOMEM, "out of memory listing");
    fl_buf names;
    fl_buf_init(&names, 0);
    w->fs = impl;
    w->start_after = start_after;
    w->flags = flags;
    w->fn = fn;
    w->ctx = ctx;
    w->names = &names;
    /* prefix = "<dir>/<name prefix>" : walk <dir>, filtering its entries by name prefix */
    size_t cut = prefix.len;
    while (cut > 0 && prefix.ptr[cut - 1] != '/') cut--;
    memcpy(w->key, prefix.ptr, cut);
    fl_rc rc = walk_dir(w, cut, fl_str_make(prefix.ptr + cut, prefix.len - cut), 0, err);
    fl_buf_reset(&names);
    fl_free(w);
    return rc;
}

/* ------------------------------------------------------------------ streaming writer */

typedef struct file_writer {
    int fd;
    uint32_t flags;
    uint64_t size;
    char tmp[FILE_MAX_PATH];
    char path[FILE_MAX_PATH];
} file_writer;

static fl_rc file_writer_open(void *impl, fl_str key, uint32_t flags, void **out, fl_err *err)
{
    file_writer *fw = fl_calloc(1, sizeof *fw);
    if (!fw) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fw->flags = flags;
    fl_rc rc = full_path(impl, key, fw->path, err);
    if (!rc) rc = open_temp(fw->path, !(flags & FL_STORE_NO_SYNC), fw->tmp, &fw->fd, err);
    if (rc) {
        fl_free(fw);
        return rc;
    }
    *out = fw;
    return FL_OK;
}

static fl_rc file_writer_write(void *w, const void *data, size_t len, fl_err *err)
{
    file_writer *fw = w;
    fl_rc rc = write_all(fw->fd, data, len, fw->tmp, err);
    if (!rc) fw->size += len;
    return rc;
}

static fl_rc file_writer_commit(void *w, fl_store_meta *meta, fl_err *err)
{
    file_writer *fw = w;
    fl_rc rc = publish(fw->fd, fw->tmp, fw->path, fw->flags, err);
    if (!rc && meta) {
        struct stat st;
        memset(meta, 0, sizeof *meta);
        meta->size = fw->size;
        if (stat(fw->path, &st) == 0)
            meta->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    fl_free(fw);
    return rc;
}

static void file_writer_abort(void *w)
{
    file_writer *fw = w;
    close(fw->fd);
    unlink(fw->tmp);
    fl_free(fw);
}

static const char *const file_alias[] = {NULL};

const fl_store_driver store_file_drv = {
    .scheme = "file",
    .alias = file_alias,
    .open = file_open,
    .close = file_close,
    .get = file_get,
    .put = file_put,
    .head = file_head,
    .del = file_del,
    .list = file_list,
    .writer_open = file_writer_open,
    .writer_write = file_writer_write,
    .writer_commit = file_writer_commit,
    .writer_abort = file_writer_abort,
};
