/* engine_queue.c - the bounded blocking queue between pipeline stages (module engine).
 * A ring of pointers guarded by one mutex and two condition variables. Capacity is
 * fixed at init, so a fast stage waits for a slow one instead of buffering without
 * bound. eng_queue_close lets consumers drain; eng_queue_abort releases every waiter at once. */
#include "engine/engine_int.h"

fl_rc eng_queue_init(eng_queue *q, size_t cap, fl_err *err)
{
    memset(q, 0, sizeof *q);
    q->cap = cap ? cap : 1;
    q->items = fl_calloc(q->cap, sizeof *q->items);
    if (!q->items) return fl_err_set(err, FL_E_NOMEM, "out of memory (queue)");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->can_pop, NULL);
    pthread_cond_init(&q->can_push, NULL);
    return FL_OK;
}

void eng_queue_fini(eng_queue *q)
{
    if (!q->items) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->can_pop);
    pthread_cond_destroy(&q->can_push);
    fl_free(q->items);
    q->items = NULL;
}

bool eng_queue_push(eng_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == q->cap && !q->aborted) pthread_cond_wait(&q->can_push, &q->mu);
    bool ok = !q->aborted;
    if (ok) {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->can_pop);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void *eng_queue_pop(eng_queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed && !q->aborted) pthread_cond_wait(&q->can_pop, &q->mu);
    if (!q->aborted && q->len) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->can_push);
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void eng_queue_close(eng_queue *q)
{
    if (!q->items) return;
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->can_pop);
    pthread_mutex_unlock(&q->mu);
}

void eng_queue_abort(eng_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->aborted = true;
    pthread_cond_broadcast(&q->can_pop);
    pthread_cond_broadcast(&q->can_push);
    pthread_mutex_unlock(&q->mu);
}
