/* Dynamic batching for one model instance (serving.yaml `batching:`):
 * concurrent requests are queued for up to max_queue_delay, concatenated
 * along dimension 0 up to max_batch_size rows, run once, and the outputs
 * split back. Requests that cannot share a batch (different inputs, shapes
 * or requested outputs, or outputs without a batch dimension) run alone, so
 * batching never changes an answer. */
#ifndef MLAMBDA_SERVING_BATCHER_H
#define MLAMBDA_SERVING_BATCHER_H

#include <stdint.h>

#include "serving/runtime.h"

typedef struct ml_batch_config {
    int max_batch_size;    /* rows per run; <= 1 disables batching */
    uint64_t max_delay_ns; /* longest wait for companions */
    int instances;         /* batches that may run at once (threads taking from the queue) */
    /* preferred batch sizes, ascending, each <= max_batch_size: a batch is
     * sent as soon as the largest is reached, and one short of
     * max_batch_size is cut to the largest preferred size it fills */
    int n_preferred;
    int preferred[8];
} ml_batch_config;

/* Reads {"batching": {"max_batch_size": N, "max_queue_delay_us": D,
 * "instances": I, "preferred_batch_sizes": [...]}} from a version's options
 * (validated by the registry's spec parser); false when batching is off. */
bool ml_batch_config_from_json(const json_t *options, ml_batch_config *out);

/* Starts the batching thread for inst (borrowed; must outlive the batcher).
 * metrics (borrowed, may be NULL) counts batched runs. */
ml_status ml_batcher_create(ml_instance *inst, const ml_batch_config *cfg, ml_metrics *metrics,
                            ml_batcher **out);
/* Finishes queued requests, stops the thread, frees. NULL is accepted. */
void ml_batcher_free(ml_batcher *b);

/* Whether the calling thread queued a request for a shared run since it
 * last called ml_batcher_thread_reset(). The HTTP server keeps such routes
 * off its event loops: a loop waiting for its own batch cannot receive the
 * requests that would fill it. */
bool ml_batcher_thread_queued(void);
void ml_batcher_thread_reset(void);

/* Runs one request through the queue; blocks until its answer is ready.
 * queue_ns/compute_ns (may be NULL) receive the time waited and the time
 * of the (shared) run. A request whose deadline passes while it is queued
 * is answered ML_ERR_DEADLINE without running; a shared run gets the latest
 * deadline of its requests (none if one has none). */
ml_status ml_batcher_run(ml_batcher *b, const ml_tensor_list *in, const char *const *want,
                         size_t n_want, uint64_t deadline_ns, ml_tensor_list *out,
                         uint64_t *queue_ns, uint64_t *compute_ns);

/* One unbatched run of an instance (runtime.c); deadline_ns as in
 * ml_infer_ctx. */
ml_status ml_instance_run(ml_instance *inst, const ml_tensor_list *in, const char *const *want,
                          size_t n_want, uint64_t deadline_ns, ml_tensor_list *out,
                          uint64_t *compute_ns);

#endif
