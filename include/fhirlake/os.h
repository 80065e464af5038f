/* fhirlake/os.h - files, mmap, clocks, randomness and UUIDs (module os).
 * The only module with platform-specific code. Paths are NUL-terminated C strings.
 * All functions are thread-safe. */
#ifndef FHIRLAKE_OS_H
#define FHIRLAKE_OS_H

#include "fhirlake/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read a whole file into *out (which the caller initialised; bytes are appended).
 * Fails with FL_E_LIMIT if the file is larger than `limit` bytes (0 = no limit). */
FL_API fl_rc fl_file_read(const char *path, size_t limit, fl_buf *out, fl_err *err);

/* A read-only mapping of a whole file. An empty file maps to {ptr="", len=0}. */
typedef struct fl_mmap {
    const char *ptr;
    size_t len;
    void *base_; /* private */
} fl_mmap;
FL_API fl_rc fl_file_mmap(const char *path, fl_mmap *out, fl_err *err);
FL_API void fl_file_munmap(fl_mmap *m);

/* Write data to path atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory. Readers see the old file or the new one, never a torn one. */
FL_API fl_rc fl_file_write_atomic(const char *path, const void *data, size_t len, fl_err *err);
/* Create path with data only if it does not exist (temp + fsync + link(2), which fails
 * with EEXIST atomically; then fsync of the directory). FL_E_EXISTS if it was there. */
FL_API fl_rc fl_file_put_if_absent(const char *path, const void *data, size_t len, fl_err *err);
/* fsync an open-able file or directory by path. */
FL_API fl_rc fl_fsync_path(const char *path, fl_err *err);
/* mkdir -p (mode 0755). Existing directories are fine. */
FL_API fl_rc fl_mkdir_p(const char *path, fl_err *err);
/* true if path exists (file or directory); *is_dir and *size optional. */
FL_API bool fl_path_exists(const char *path, bool *is_dir, uint64_t *size);
/* Remove a file (FL_E_NOT_FOUND if absent). */
FL_API fl_rc fl_file_remove(const char *path, fl_err *err);
/* Remove a directory tree (like rm -rf). Missing is fine. */
FL_API fl_rc fl_rm_rf(const char *path, fl_err *err);

/* Directory listing: names (not paths) of the entries of dir, sorted bytewise, without
 * "." and "..". Names are allocated in arena `a`; *out_names points into the arena. */
FL_API fl_rc fl_dir_list(const char *dir, fl_arena *a, fl_str **out_names, size_t *out_count,
                         fl_err *err);

/* Wall-clock microseconds since the Unix epoch. */
FL_API int64_t fl_clock_now_us(void);
/* Monotonic nanoseconds (arbitrary origin). */
FL_API uint64_t fl_clock_mono_ns(void);
/* Sleep for ms milliseconds. */
FL_API void fl_sleep_ms(uint32_t ms);
/* Format microseconds since epoch as RFC 3339 UTC with millisecond precision
 * ("2024-01-02T03:04:05.678Z") into out (>= 32 bytes). Returns length. */
FL_API size_t fl_time_format_rfc3339(int64_t us, char *out, size_t cap);

/* Cryptographically random bytes from the OS. */
FL_API fl_rc fl_random_bytes(void *out, size_t n, fl_err *err);
/* A random 64-bit value (never fails; falls back to a time-seeded mix). */
FL_API uint64_t fl_random_u64(void);
/* RFC 4122 version-4 UUID as 36 chars + NUL. */
FL_API void fl_uuid4(char out[37]);

/* Number of online CPUs (>= 1). */
FL_API unsigned fl_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
