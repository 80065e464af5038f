/* bench_view_run.c - throughput of the view runner (bench/view_run).
 *   bench_view_run gen N OUT.ndjson        write N synthetic Patients (deterministic)
 *   bench_view_run run VIEW IN.ndjson [--threads T] [--reps R]
 * `run` loads the input into memory, compiles the view once and runs it over every line
 * (parse + evaluate + NDJSON output into a memory buffer, as `fhirlake run` does) on T
 * threads that share the plan (T=0: one per CPU). Prints resources/s and rows/s of the
 * best of R repetitions as one line of key=value pairs. */
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/view.h"

#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ generator */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

static const char *const families[] = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia",
                                       "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
                                       "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
                                       "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
                                       "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis"};
static const char *const givens[] = {"James", "Mary", "Robert", "Patricia", "John", "Jennifer",
                                     "Michael", "Linda", "David", "Elizabeth", "William", "Barbara",
                                     "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
                                     "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy"};
static const char *const cities[] = {"Springfield", "Riverside", "Franklin", "Greenville", "Bristol",
                                     "Clinton", "Fairview", "Salem", "Madison", "Georgetown"};
static const char *const states[] = {"MA", "CA", "TX", "NY", "WA", "OR", "IL", "OH", "GA", "NC"};
static const char *const streets[] = {"Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln",
                                      "Elm St", "Washington Blvd", "Lake View", "Hill Rd"};
static const char *const genders[] = {"male", "female", "other", "unknown"};
static const char *const name_uses[] = {"usual", "maiden", "nickname", "old"};
static const char *const addr_uses[] = {"home", "work", "temp", "billing"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void gen_patient(fl_buf *b, unsigned i)
{
    fl_buf_printf(b, "{\"resourceType\":\"Patient\",\"id\":\"pt-%08u\",", i);
    fl_buf_printf(b, "\"meta\":{\"versionId\":\"%u\",\"lastUpdated\":\"2024-0%u-1%uT0%u:1%u:2%u.%03uZ\"},",
                  1 + pick(5), 1 + pick(9), pick(10), pick(10), pick(10), pick(10), pick(1000));
    fl_buf_printf(b, "\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex\","
                     "\"valueCode\":\"%s\"}",
                  pick(2) ? "F" : "M");
    if (pick(2))
        fl_buf_printf(b, ",{\"url\":\"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName\","
                         "\"valueString\":\"%s\"}",
                      families[pick(N_OF(families))]);
    fl_buf_append_c(b, "],");
    fl_buf_printf(b, "\"identifier\":[{\"system\":\"http://hospital.example.org/mrn\",\"value\":\"MRN%07u\"}", i);
    if (pick(2))
        fl_buf_printf(b, ",{\"use\":\"official\",\"system\":\"http://hl7.org/fhir/sid/us-ssn\","
                         "\"value\":\"%03u-%02u-%04u\"}",
                      pick(1000), pick(100), pick(10000));
    fl_buf_append_c(b, "],");
    fl_buf_printf(b, "\"active\":%s,", pick(5) ? "true" : "false");
    unsigned nn = 1 + pick(3);
    fl_buf_append_c(b, "\"name\":[");
    for (unsigned k = 0; k < nn; k++) {
        fl_buf_printf(b, "%s{\"use\":\"%s\",\"family\":\"%s\",\"given\":[", k ? "," : "",
                      k == 0 ? "official" : name_uses[pick(N_OF(name_uses))], families[pick(N_OF(families))]);
        unsigned ng = 1 + pick(3);
        for (unsigned g = 0; g < ng; g++) fl_buf_printf(b, "%s\"%s\"", g ? "," : "", givens[pick(N_OF(givens))]);
        fl_buf_append_c(b, "]}");
    }
    fl_buf_append_c(b, "],");
    unsigned nt = 1 + pick(3);
    fl_buf_append_c(b, "\"telecom\":[");
    for (unsigned k = 0; k < nt; k++) {
        if (pick(2))
            fl_buf_printf(b, "%s{\"system\":\"phone\",\"value\":\"555-%04u\",\"use\":\"%s\"}", k ? "," : "",
                          pick(10000), pick(2) ? "home" : "mobile");
        else
            fl_buf_printf(b, "%s{\"system\":\"email\",\"value\":\"user%u@example.org\",\"use\":\"work\"}",
                          k ? "," : "", pick(100000));
    }
    fl_buf_append_c(b, "],");
    fl_buf_printf(b, "\"gender\":\"%s\",", genders[pick(N_OF(genders))]);
    unsigned y = 1920 + pick(100), m = 1 + pick(12), d = 1 + pick(28), form = pick(10);
    if (form < 7) fl_buf_printf(b, "\"birthDate\":\"%u-%02u-%02u\",", y, m, d);
    else if (form < 9) fl_buf_printf(b, "\"birthDate\":\"%u-%02u\",", y, m);
    else fl_buf_printf(b, "\"birthDate\":\"%u\",", y);
    if (pick(10) == 0) fl_buf_printf(b, "\"deceasedDateTime\":\"20%02u-%02u\",", pick(24), 1 + pick(12));
    else fl_buf_append_c(b, "\"deceasedBoolean\":false,");
    unsigned na = pick(4);
    fl_buf_append_c(b, "\"address\":[");
    for (unsigned k = 0; k < na; k++) {
        fl_buf_printf(b, "%s{\"use\":\"%s\",\"line\":[\"%u %s\"", k ? "," : "", addr_uses[pick(N_OF(addr_uses))],
                      1 + pick(9999), streets[pick(N_OF(streets))]);
        if (pick(3) == 0) fl_buf_printf(b, ",\"Apt %u\"", 1 + pick(99));
        fl_buf_printf(b, "],\"city\":\"%s\",\"state\":\"%s\",\"postalCode\":\"%05u\",\"country\":\"US\"}",
                      cities[pick(N_OF(cities))], states[pick(N_OF(states))], pick(100000));
    }
    fl_buf_append_c(b, "],");
    fl_buf_printf(b, "\"maritalStatus\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                     "v3-MaritalStatus\",\"code\":\"%c\"}]}}\n",
                  "MSDWU"[pick(5)]);
}

static int cmd_gen(unsigned n, const char *out)
{
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 1;
    }
    fl_buf b;
    fl_buf_init(&b, 0);
    for (unsigned i = 0; i < n; i++) {
        gen_patient(&b, i);
        if (b.len > (1u << 20) || i + 1 == n) {
            if (fwrite(b.ptr, 1, b.len, f) != b.len) {
                perror(out);
                fclose(f);
                return 1;
            }
            fl_buf_clear(&b);
        }
    }
    fl_buf_reset(&b);
    return fclose(f) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ runner */

typedef struct job {
    const fl_view_plan *plan;
    const fl_str *lines;
    size_t begin, end;
    uint64_t rows, out_bytes;
    fl_rc rc;
    char msg[FL_ERR_MSG_MAX];
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    fl_err err;
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    fl_buf out;
    fl_buf_init(&out, 0);
    fl_view_writer w;
    fl_view_writer_init(&w, j->plan, FL_VIEW_FMT_NDJSON, 0);
    j->rc = fl_view_ctx_new(j->plan, &ctx, &err);
    if (!j->rc) j->rc = fl_view_batch_new(j->plan, 1024, &b, &err);
    size_t i = j->begin;
    for (; i < j->end && !j->rc; i++) {
        size_t n = 0;
        j->rc = fl_view_eval_text(ctx, j->lines[i].ptr, j->lines[i].len, b, &n, &err);
        j->rows += n;
        if (fl_view_batch_rows(b) >= 1024) {
            fl_view_writer_batch(&w, b, &out);
            fl_view_batch_clear(b);
            j->out_bytes += out.len;
            fl_buf_clear(&out);
        }
    }
    if (!j->rc) {
        fl_view_writer_batch(&w, b, &out);
        fl_view_writer_finish(&w, &out);
        j->out_bytes += out.len;
    }
    if (j->rc) snprintf(j->msg, sizeof j->msg, "line %zu: %s", i, err.msg);
    fl_buf_reset(&out);
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    return NULL;
}

/* CPU seconds (user + system) used by the whole process so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmd_run(const char *view_path, const char *in_path, unsigned threads, unsigned reps)
{
    fl_err err;
    fl_buf vtext, input;
    fl_buf_init(&vtext, 0);
    fl_buf_init(&input, 0);
    if (fl_file_read(view_path, 0, &vtext, &err) || fl_file_read(in_path, 0, &input, &err)) {
        fprintf(stderr, "bench_view_run: %s\n", err.msg);
        return 1;
    }
    fl_view_plan *plan = NULL;
    if (fl_view_compile(vtext.ptr, vtext.len, NULL, &plan, &err)) {
        fprintf(stderr, "bench_view_run: %s: %s\n", view_path, err.msg);
        return 1;
    }
    size_t nlines = 0, cap = 1024;
    fl_str *lines = malloc(cap * sizeof *lines);
    for (size_t p = 0; p < input.len;) {
        const char *nl = memchr(input.ptr + p, '\n', input.len - p);
        size_t e = nl ? (size_t)(nl - input.ptr) : input.len;
        if (e > p) {
            if (nlines == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
            lines[nlines++] = fl_str_make(input.ptr + p, e - p);
        }
        p = e + 1;
    }
    if (threads == 0) threads = fl_cpu_count();
    double best = 1e300, best_cpu = 1e300;
    uint64_t rows = 0, out_bytes = 0;
    for (unsigned r = 0; r < reps; r++) {
        job *jobs = calloc(threads, sizeof *jobs);
        pthread_t *th = calloc(threads, sizeof *th);
        uint64_t t0 = fl_clock_mono_ns();
        double c0 = cpu_seconds();
        for (unsigned t = 0; t < threads; t++) {
            jobs[t].plan = plan;
            jobs[t].lines = lines;
            jobs[t].begin = nlines * t / threads;
            jobs[t].end = nlines * (t + 1) / threads;
            pthread_create(&th[t], NULL, job_main, &jobs[t]);
        }
        rows = out_bytes = 0;
        for (unsigned t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            if (jobs[t].rc) {
                fprintf(stderr, "bench_view_run: %s\n", jobs[t].msg);
                return 1;
            }
            rows += jobs[t].rows;
            out_bytes += jobs[t].out_bytes;
        }
        double secs = (double)(fl_clock_mono_ns() - t0) / 1e9, cpu = cpu_seconds() - c0;
        if (secs < best) best = secs;
        if (cpu < best_cpu) best_cpu = cpu;
        free(jobs);
        free(th);
    }
    printf("threads=%u resources=%zu rows=%llu input_mb=%.1f output_mb=%.1f seconds=%.3f "
           "resources_per_s=%.0f rows_per_s=%.0f cpu_seconds=%.3f resources_per_cpu_s=%.0f\n",
           threads, nlines, (unsigned long long)rows, (double)input.len / 1e6, (double)out_bytes / 1e6, best,
           (double)nlines / best, (double)rows / best, best_cpu, (double)nlines / best_cpu);
    free(lines);
    fl_view_plan_free(plan);
    fl_buf_reset(&vtext);
    fl_buf_reset(&input);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen")) return cmd_gen((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "run")) {
        unsigned threads = 1, reps = 3;
        for (int i = 4; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--threads")) threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "--reps")) reps = (unsigned)strtoul(argv[i + 1], NULL, 10);
        }
        return cmd_run(argv[2], argv[3], threads, reps ? reps : 1);
    }
    fprintf(stderr, "usage: bench_view_run gen N OUT.ndjson | run VIEW IN.ndjson [--threads T] [--reps R]\n");
    return 2;
}
