/* engine_int.h - private declarations shared by the files of module engine.
 * Public contract: include/fhirlake/engine.h. The export pipeline's shared state, the
 * bounded queue, the units that travel through it (line chunks, row batches) and the
 * functions each file provides to the others. Design: docs/internals/ENGINE.md. */
#ifndef FL_ENGINE_INT_H
#define FL_ENGINE_INT_H

#include "fhirlake/delta.h"
#include "fhirlake/engine.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/store.h"
#include "fhirlake/view.h"

#include <pthread.h>
#include <stdatomic.h>

#define ENG_CHUNK_BYTES ((size_t)1 << 20) /* lines handed to a worker at once */
#define ENG_MAX_LINE ((size_t)64 << 20)   /* longest NDJSON line */
#define ENG_DEFAULT_FILE_SIZE ((uint64_t)128 << 20)
#define ENG_DEFAULT_BATCH_ROWS 8192u
#define ENG_ROW_GROUP_CAP ((size_t)64 << 20)

/* ------------------------------------------------------------------ bounded queue */

/* Blocking FIFO of pointers with a fixed capacity. push waits while full, pop while
 * empty. eng_queue_close: pops drain what is left, then return NULL; eng_queue_abort: pushes and pops
 * return false/NULL at once. */
typedef struct eng_queue {
    pthread_mutex_t mu;
    pthread_cond_t can_pop, can_push;
    void **items;
    size_t cap, head, len;
    bool closed, aborted;
} eng_queue;

fl_rc eng_queue_init(eng_queue *q, size_t cap, fl_err *err);
void eng_queue_fini(eng_queue *q);
bool eng_queue_push(eng_queue *q, void *item);
void *eng_queue_pop(eng_queue *q);
void eng_queue_close(eng_queue *q);
void eng_queue_abort(eng_queue *q);

/* ------------------------------------------------------------------ units of work */

typedef struct eng_line {
    size_t off, len;  /* in chunk->text */
    uint64_t line_no; /* 1-based */
} eng_line;

/* Lines of one input file, read by a reader thread, consumed by a worker. */
typedef struct eng_chunk {
    uint32_t file;  /* index into eng_state.files */
    fl_buf text;
    fl_vec lines;   /* eng_line */
} eng_chunk;

/* Rows of one view from one worker, handed to the table's writer thread. */
typedef struct eng_batch {
    fl_view_batch *vb;
    fl_vec deleted; /* int32_t is_deleted per row */
} eng_batch;

/* One resolved input file. */
typedef struct eng_file {
    char *path;      /* owned */
    bool deleted;    /* a Bulk Data `deleted` file (Bundles of DELETE requests) */
    uint64_t size;   /* bytes on disk (0 for stdin) */
} eng_file;

/* Merge: the winning version of one resource key "Type/id" across the input. */
typedef struct eng_winner {
    int64_t last_updated; /* micros; INT64_MIN when absent; INT64_MAX for a deletion */
    uint32_t file;
    uint64_t line_no;
    bool deleted;
    uint64_t stale;       /* bit t: table t holds a newer version (merge keeps the table's rows) */
} eng_winner;

/* One view and its output table. */
typedef struct eng_table {
    struct eng_state *es;
    size_t index;
    fl_view_plan *plan;
    char name[128];        /* view name (or the view file's base name) = table name */
    const char *resource;  /* plan resource type */
    int key_col;           /* column holding the resource id, -1 if none */
    int lu_col;            /* TIMESTAMP column with path meta.lastUpdated, -1 if none */
    char *location;        /* owned: table URL or output key */
    bool skipped;          /* already committed by this export id */
    /* queue of full batches and pool of free ones */
    eng_queue full, free_q;
    eng_batch *batches;
    size_t n_batches;
    pthread_t thread;
    bool thread_started;
    /* delta sink */
    fl_store *st;
    fl_delta_table *tbl;
    fl_delta_txn *txn;
    fl_pq_writer *pw;      /* open data file (owned by the txn) */
    fl_arena scratch;      /* per-batch conversion arrays */
    fl_map before;         /* live paths before the export (keys in before_a) */
    fl_arena before_a;
    /* plain-file sink */
    fl_store_writer *sw;
    fl_pq_writer *plain_pw;
    fl_view_writer vw;
    fl_buf out, text;      /* CSV/NDJSON: output pending upload; rows before is_deleted is added */
    bool header_done;      /* CSV header got its is_deleted column */
    _Atomic uint64_t failed; /* resources this view failed on */
    /* counters */
    _Atomic uint64_t rows_produced;
    uint64_t rows_written, rows_removed, files, bytes;
    int64_t version;
    double seconds;
    fl_rc rc;              /* the writer thread's failure */
    fl_err err;
} eng_table;

/* Shared state of one export. */
typedef struct eng_state {
    const fl_engine_export_opts *o;
    eng_table *tables;
    size_t n_tables;
    eng_file *files;
    size_t n_files;
    uint64_t bytes_total;
    uint64_t t0_ns;
    fl_pq_write_opts pqo;
    size_t batch_rows;
    unsigned n_workers, n_readers;
    /* pass: 0 = main, 1 = merge scan (winners only) */
    int pass;
    /* chunks */
    eng_queue work_q, chunk_free;
    eng_chunk *chunks;
    size_t n_chunks;
    _Atomic size_t next_file;
    _Atomic size_t files_done;
    _Atomic uint64_t bytes_read, lines, resources, filtered, deleted, failed;
    _Atomic int readers_left, workers_left;
    _Atomic bool stop; /* abort everything */
    /* first fatal error */
    pthread_mutex_t mu;
    fl_rc rc;
    fl_err err;
    /* bad-line callback serialisation */
    pthread_mutex_t cb_mu;
    /* merge winners: "Type/id" -> eng_winner* */
    pthread_mutex_t win_mu;
    fl_map winners;
    fl_arena win_a;
} eng_state;

/* ------------------------------------------------------------------ functions */

/* engine_export.c */
void eng_fail(eng_state *es, fl_rc rc, const fl_err *err);
void eng_bad_line(eng_state *es, uint32_t file, uint64_t line_no, fl_rc code, const char *reason, fl_str text);
double eng_elapsed(const eng_state *es);

/* engine_input.c */
fl_rc eng_inputs_resolve(eng_state *es, fl_err *err);
void eng_inputs_free(eng_state *es);
fl_rc eng_export_id(const eng_state *es, char out[72], fl_err *err);
void *eng_reader_main(void *arg);

/* engine_work.c */
void *eng_worker_main(void *arg);

/* engine_sink.c */
fl_rc eng_table_open(eng_table *t, fl_str app_id, fl_err *err);
void *eng_table_main(void *arg);
fl_rc eng_table_commit(eng_table *t, fl_err *err);
void eng_table_close(eng_table *t);
fl_rc eng_pq_schema_for(const fl_view_plan *plan, fl_pq_schema **out, fl_err *err);
/* Delta set-up shared by the export's table sinks (engine_sink.c) and the delivery sink
 * (engine_deliver.c). eng_delta_kind/eng_delta_col_type: the Delta type of a view column
 * (allocated in s). eng_delta_schema_for: view columns + is_deleted INT, checked; the
 * caller frees *out. eng_delta_open: open the store at url (so borrowed; so->log also
 * goes to the table) and its Delta table; *snap = the latest snapshot (caller frees), or
 * NULL when there was no table and one was created (schema, or when NULL the plan's
 * eng_delta_schema_for; table name `name`). *st and *tbl are set as far as they were
 * opened, also on error: the caller closes them (fl_delta_table_close, fl_store_close). */
fl_delta_kind eng_delta_kind(fl_view_type t);
const fl_delta_type *eng_delta_col_type(fl_delta_schema *s, const fl_view_col *c);
fl_rc eng_delta_schema_for(const fl_view_plan *plan, fl_delta_schema **out, fl_err *err);
fl_rc eng_delta_open(const char *url, const fl_store_opts *so, const fl_view_plan *plan, fl_delta_schema *schema,
                     const char *name, fl_store **st, fl_delta_table **tbl, fl_delta_snapshot **snap, fl_err *err);
fl_rc eng_colvec_from_view(fl_arena *scratch, const fl_view_vec *v, size_t rows, fl_pq_colvec *cv, fl_err *err);

/* engine_merge.c */
fl_rc eng_merge_mark_stale(eng_table *t, fl_err *err);
fl_rc eng_merge_rewrite(eng_table *t, fl_err *err);

#endif
