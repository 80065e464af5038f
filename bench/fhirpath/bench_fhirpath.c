/* bench_fhirpath.c - FHIRPath evaluation throughput (bench, not run by tests).
 * usage: bench_fhirpath EXPRS.tsv FILE.ndjson[.gz]... [--reps N]
 * Loads every resource into one DOM first (parsing is not timed), compiles each
 * expression of EXPRS.tsv ("ResourceType<TAB>expression") once, then evaluates every
 * expression on every resource of its type with an arena reset per resource. Prints
 * evaluations/s and the result item count per expression (to compare with peer.js). */
#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EXPRS 64

/* CPU seconds of this process (less sensitive than wall time on a shared machine). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_fhirpath EXPRS.tsv FILE.ndjson[.gz]... [--reps N]\n");
        return 2;
    }
    int reps = 5;
    fl_err err;
    fl_arena docs;
    fl_arena_init(&docs, 1 << 20, 0);
    const fl_json_val **res = NULL;
    size_t nres = 0, cap = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            continue;
        }
        fl_ndjson_reader *r;
        if (fl_ndjson_open(argv[i], NULL, &r, &err)) {
            fprintf(stderr, "%s: %s\n", argv[i], err.msg);
            return 1;
        }
        fl_ndjson_line line;
        fl_json_opts jo = {.flags = FL_JSON_COPY_STRINGS};
        while (fl_ndjson_next(r, &line, &err) == FL_OK) {
            fl_json_val *v;
            if (fl_json_parse(line.text.ptr, line.text.len, &jo, &docs, &v, NULL, &err)) continue;
            if (nres == cap) {
                cap = cap ? cap * 2 : 1024;
                res = realloc(res, cap * sizeof *res);
            }
            res[nres++] = v;
        }
        fl_ndjson_close(r);
    }
    fl_buf text;
    fl_buf_init(&text, 0);
    if (fl_file_read(argv[1], 0, &text, &err)) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return 1;
    }
    char *types[MAX_EXPRS];
    fl_fp_prog *progs[MAX_EXPRS];
    size_t nexpr = 0;
    for (char *line = strtok(text.ptr, "\n"); line && nexpr < MAX_EXPRS; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        types[nexpr] = line;
        if (fl_fp_compile(tab + 1, SIZE_MAX, NULL, &progs[nexpr], &err)) {
            fprintf(stderr, "compile %s: %s\n", tab + 1, err.msg);
            return 1;
        }
        nexpr++;
    }
    /* resource type of each resource, once */
    const char **rtype = calloc(nres, sizeof *rtype);
    for (size_t k = 0; k < nres; k++) {
        const fl_json_val *t = fl_json_get_c(res[k], "resourceType");
        rtype[k] = t ? fl_arena_strndup(&docs, t->u.str, t->len) : "";
    }
    fl_arena a;
    fl_arena_init(&a, 1 << 16, 0);
    double best = 1e30, best_cpu = 1e30;
    uint64_t evals = 0;
    uint64_t *items = calloc(nexpr, sizeof *items);
    for (int rep = 0; rep < reps; rep++) {
        memset(items, 0, nexpr * sizeof *items);
        evals = 0;
        uint64_t t0 = fl_clock_mono_ns();
        double c0 = cpu_now();
        for (size_t k = 0; k < nres; k++) {
            /* the root item is built once per resource and shared by all expressions */
            fl_fp_item root = fl_fp_item_from_json(res[k], NULL);
            for (size_t e = 0; e < nexpr; e++) {
                if (strcmp(types[e], rtype[k])) continue;
                fl_fp_coll out;
                if (fl_fp_eval_coll(progs[e], fl_fp_coll_one(&root), NULL, &a, &out, &err) == FL_OK) items[e] += out.len;
                evals++;
            }
            fl_arena_reset(&a);
        }
        double s = (double)(fl_clock_mono_ns() - t0) / 1e9;
        double cs = cpu_now() - c0;
        if (s < best) best = s;
        if (cs < best_cpu) best_cpu = cs;
    }
    printf("engine=fhirlake resources=%zu evals=%llu seconds=%.4f evals_per_s=%.0f ns_per_eval=%.1f "
           "cpu_seconds=%.4f evals_per_cpu_s=%.0f\n",
           nres, (unsigned long long)evals, best, (double)evals / best, best * 1e9 / (double)evals, best_cpu,
           (double)evals / best_cpu);
    for (size_t e = 0; e < nexpr; e++) printf("items[%zu]=%llu\n", e, (unsigned long long)items[e]);
    for (size_t e = 0; e < nexpr; e++) fl_fp_prog_free(progs[e]);
    fl_arena_fini(&a);
    fl_arena_fini(&docs);
    fl_buf_reset(&text);
    free(res);
    free(rtype);
    free(items);
    return 0;
}
