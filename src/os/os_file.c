/* os_file.c - file helpers: read, mmap, atomic write, put-if-absent, fsync, listing
 * (module os). Durability rule: data is fsync'ed before it becomes visible under its
 * final name (rename/link), and the directory is fsync'ed after, so a crash never
 * leaves a torn or half-named file. */
#define _GNU_SOURCE
#include "fhirlake/os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static fl_rc sys_err(fl_err *err, const char *what, const char *path)
{
    int e = errno;
    fl_rc code = e == ENOENT ? FL_E_NOT_FOUND : e == EEXIST ? FL_E_EXISTS : e == ENOMEM ? FL_E_NOMEM : FL_E_IO;
    return fl_err_set(err, code, "%s %s: %s", what, path, strerror(e));
}

fl_rc fl_file_read(const char *path, size_t limit, fl_buf *out, fl_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_err(err, "cannot open", path);
    fl_rc rc = FL_OK;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = fl_err_set(err, FL_E_IO, "cannot read %s: is a directory", path);
        goto done;
    }
    if (st.st_size > 0) {
        if (limit && (uint64_t)st.st_size > limit) {
            rc = fl_err_set(err, FL_E_LIMIT, "%s is %lld bytes, over the limit of %zu", path,
                            (long long)st.st_size, limit);
            goto done;
        }
        if ((rc = fl_buf_reserve(out, (size_t)st.st_size)) != FL_OK) {
            fl_err_set(err, rc, "cannot read %s: %s", path, fl_rc_str(rc));
            goto done;
        }
    }
    for (;;) {
        if ((rc = fl_buf_reserve(out, 65536)) != FL_OK) {
            fl_err_set(err, rc, "cannot read %s: %s", path, rc == FL_E_LIMIT ? "over the size limit" : fl_rc_str(rc));
            goto done;
        }
        ssize_t n = read(fd, out->ptr + out->len, 65536);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = sys_err(err, "cannot read", path);
            goto done;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        out->ptr[out->len] = 0;
        if (limit && out->len > limit) {
            rc = fl_err_set(err, FL_E_LIMIT, "%s is over the limit of %zu bytes", path, limit);
            goto done;
        }
    }
done:
    close(fd);
    return rc;
}

fl_rc fl_file_mmap(const char *path, fl_mmap *out, fl_err *err)
{
    out->ptr = "";
    out->len = 0;
    out->base_ = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_err(err, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fl_rc rc = sys_err(err, "cannot stat", path);
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fl_err_set(err, FL_E_IO, "cannot read %s: is a directory", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        if (st.st_size == 0 && S_ISREG(st.st_mode)) return FL_OK;
        return fl_err_set(err, FL_E_UNSUPPORTED, "%s is not a regular file (cannot mmap)", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return sys_err(err, "cannot mmap", path);
    madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
    out->ptr = p;
    out->len = (size_t)st.st_size;
    out->base_ = p;
    return FL_OK;
}

void fl_file_munmap(fl_mmap *m)
{
    if (m->base_) munmap(m->base_, m->len);
    m->base_ = NULL;
    m->ptr = "";
    m->len = 0;
}

static fl_rc write_all(int fd, const void *data, size_t len, const char *path, fl_err *err)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_err(err, "cannot write", path);
        }
        p += n;
        len -= (size_t)n;
    }
    return FL_OK;
}

/* Copy the directory part of path into dir (cap bytes); "." when there is none. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

fl_rc fl_fsync_path(const char *path, fl_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_err(err, "cannot open for fsync", path);
    int r = fsync(fd);
    fl_rc rc = FL_OK;
    if (r != 0 && errno != EINVAL) rc = sys_err(err, "cannot fsync", path);
    close(fd);
    return rc;
}

/* Write data into a fresh temp file next to path; returns its name in tmp. */
static fl_rc write_temp(const char *path, const void *data, size_t len, char *tmp, size_t cap, fl_err *err)
{
    char uuid[37];
    fl_uuid4(uuid);
    int n = snprintf(tmp, cap, "%s.%.8s.tmp", path, uuid);
    if (n < 0 || (size_t)n >= cap) return fl_err_set(err, FL_E_LIMIT, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return sys_err(err, "cannot create", tmp);
    fl_rc rc = write_all(fd, data, len, tmp, err);
    if (!rc && fsync(fd) != 0) rc = sys_err(err, "cannot fsync", tmp);
    if (close(fd) != 0 && !rc) rc = sys_err(err, "cannot close", tmp);
    if (rc) unlink(tmp);
    return rc;
}

fl_rc fl_file_write_atomic(const char *path, const void *data, size_t len, fl_err *err)
{
    char tmp[4096], dir[4096];
    fl_rc rc = write_temp(path, data, len, tmp, sizeof tmp, err);
    if (rc) return rc;
    if (rename(tmp, path) != 0) {
        rc = sys_err(err, "cannot rename into", path);
        unlink(tmp);
        return rc;
    }
    dir_of(path, dir, sizeof dir);
    return fl_fsync_path(dir, err);
}

fl_rc fl_file_put_if_absent(const char *path, const void *data, size_t len, fl_err *err)
{
    char tmp[4096], dir[4096];
    fl_rc rc = write_temp(path, data, len, tmp, sizeof tmp, err);
    if (rc) return rc;
    if (link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST) return fl_err_set(err, FL_E_EXISTS, "%s already exists", path);
        errno = e;
        return sys_err(err, "cannot link", path);
    }
    unlink(tmp);
    dir_of(path, dir, sizeof dir);
    return fl_fsync_path(dir, err);
}

fl_rc fl_mkdir_p(const char *path, fl_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0) return FL_OK;
    if (n >= sizeof buf) return fl_err_set(err, FL_E_LIMIT, "path too long: %s", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                struct stat st;
                if (!(stat(buf, &st) == 0 && S_ISDIR(st.st_mode))) return sys_err(err, "cannot create directory", buf);
            }
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fl_err_set(err, FL_E_IO, "cannot create directory %s: a file is in the way", path);
    return FL_OK;
}

bool fl_path_exists(const char *path, bool *is_dir, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0) return false;
    if (is_dir) *is_dir = S_ISDIR(st.st_mode);
    if (size) *size = (uint64_t)st.st_size;
    return true;
}

fl_rc fl_file_remove(const char *path, fl_err *err)
{
    if (unlink(path) != 0) return sys_err(err, "cannot remove", path);
    return FL_OK;
}

static int rm_rf_at(int parent, const char *name, int depth)
{
    if (depth > 256) return -1;
    if (unlinkat(parent, name, 0) == 0) return 0;
    if (errno == ENOENT) return 0;
    if (errno != EISDIR && errno != EPERM) return -1;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (rm_rf_at(dirfd(d), de->d_name, depth + 1) != 0) r = -1;
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
    return r;
}

fl_rc fl_rm_rf(const char *path, fl_err *err)
{
    if (rm_rf_at(AT_FDCWD, path, 0) != 0) return sys_err(err, "cannot remove", path);
    return FL_OK;
}

static int cmp_str(const void *a, const void *b) { return fl_str_cmp(*(const fl_str *)a, *(const fl_str *)b); }

fl_rc fl_dir_list(const char *dir, fl_arena *a, fl_str **out_names, size_t *out_count, fl_err *err)
{
    *out_names = NULL;
    *out_count = 0;
    DIR *d = opendir(dir);
    if (!d) return sys_err(err, "cannot list", dir);
    fl_vec names;
    fl_vec_init(&names, sizeof(fl_str));
    fl_rc rc = FL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        fl_str s = fl_arena_str_dup(a, fl_str_c(de->d_name));
        if (!s.ptr || fl_vec_push(&names, &s)) {
            rc = fl_err_set(err, FL_E_NOMEM, "out of memory listing %s", dir);
            goto done;
        }
    }
    if (names.len) {
        qsort(names.ptr, names.len, sizeof(fl_str), cmp_str);
        fl_str *arr = fl_arena_alloc(a, names.len * sizeof(fl_str));
        if (!arr) {
            rc = fl_err_set(err, FL_E_NOMEM, "out of memory listing %s", dir);
            goto done;
        }
        memcpy(arr, names.ptr, names.len * sizeof(fl_str));
        *out_names = arr;
        *out_count = names.len;
    }
done:
    closedir(d);
    fl_vec_reset(&names);
    return rc;
}
