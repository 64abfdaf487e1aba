/* Closed-loop gRPC load generator for the server benchmark: C client threads
 * each send KServe V2 ModelInfer calls (FP32 input "x" of shape [1,16]) on a
 * shared channel (or --channels N connections, threads spread over them) for a
 * fixed time, then it prints one JSON line with the request rate and latency
 * percentiles.
 *   bench_grpc_load --target 127.0.0.1:9091 --model trivial --concurrency 8 --seconds 5
 *                   [--channels 1] */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "kserve/grpc_predict_v2.pb-c.h"

typedef struct {
    grpc_channel *ch;
    const uint8_t *req;
    size_t req_len;
    uint64_t until_ns;
    uint64_t *lat;
    size_t n, cap;
    size_t errors;
} worker;

static void *run(void *arg) {
    worker *w = arg;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    while (ml_now_ns() < w->until_ns) {
        uint64_t t0 = ml_now_ns();
        grpc_call *call = grpc_channel_create_call(
            w->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
            grpc_slice_from_static_string("/inference.GRPCInferenceService/ModelInfer"), NULL,
            gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_slice s = grpc_slice_from_copied_buffer((const char *)w->req, w->req_len);
        grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        grpc_byte_buffer *recv = NULL;
        grpc_metadata_array md1, md2;
        grpc_metadata_array_init(&md1);
        grpc_metadata_array_init(&md2);
        grpc_status_code status;
        grpc_slice details;
        grpc_op ops[6];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = send;
        ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &md1;
        ops[4].op = GRPC_OP_RECV_MESSAGE;
        ops[4].data.recv_message.recv_message = &recv;
        ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        ops[5].data.recv_status_on_client.trailing_metadata = &md2;
        ops[5].data.recv_status_on_client.status = &status;
        ops[5].data.recv_status_on_client.status_details = &details;
        grpc_call_start_batch(call, ops, 6, w, NULL);
        grpc_completion_queue_pluck(cq, w, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        uint64_t t1 = ml_now_ns();
        if (status != GRPC_STATUS_OK || !recv)
            w->errors++;
        else if (w->n < w->cap)
            w->lat[w->n++] = t1 - t0;
        if (recv) grpc_byte_buffer_destroy(recv);
        grpc_byte_buffer_destroy(send);
        grpc_slice_unref(details);
        grpc_metadata_array_destroy(&md1);
        grpc_metadata_array_destroy(&md2);
        grpc_call_unref(call);
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *target = "127.0.0.1:9091", *model = "trivial";
    int conc = 1, channels = 1;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--target"))
            target = argv[i + 1];
        else if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--concurrency"))
            conc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--channels"))
            channels = atoi(argv[i + 1]);
    }
    if (conc < 1 || conc > 1024 || channels < 1 || channels > conc) return 2;
    Inference__ModelInferRequest req = INFERENCE__MODEL_INFER_REQUEST__INIT;
    Inference__ModelInferRequest__InferInputTensor in =
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    Inference__InferTensorContents contents = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    int64_t shape[2] = {1, 16};
    contents.n_fp32_contents = 16;
    contents.fp32_contents = x;
    in.name = "x";
    in.datatype = "FP32";
    in.n_shape = 2;
    in.shape = shape;
    in.contents = &contents;
    Inference__ModelInferRequest__InferInputTensor *inputs[] = {&in};
    req.model_name = (char *)model;
    req.n_inputs = 1;
    req.inputs = inputs;
    size_t len = inference__model_infer_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    inference__model_infer_request__pack(&req, buf);

    grpc_init();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    /* each channel its own TCP connection: a local subchannel pool stops
     * gRPC from sharing one connection between channels to one target */
    grpc_channel **chs = calloc((size_t)channels, sizeof *chs);
    grpc_arg local_pool = {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}};
    grpc_channel_args cargs = {1, &local_pool};
    for (int c = 0; c < channels; c++) chs[c] = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    grpc_channel *ch = chs[0];
    worker *ws = calloc((size_t)conc, sizeof *ws);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    /* a short warm-up on one thread establishes the connection */
    worker warm = {ch, buf, len, ml_now_ns() + 300000000ull, calloc(100000, 8), 0, 100000, 0};
    run(&warm);
    free(warm.lat);
    uint64_t start = ml_now_ns(), until = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < conc; i++) {
        ws[i] = (worker){chs[i % channels], buf, len, until, calloc(2000000, 8), 0, 2000000, 0};
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    size_t total = 0, errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double elapsed = (ml_now_ns() - start) / 1e9;
    uint64_t *all = malloc(sizeof *all * (total ? total : 1));
    size_t k = 0;
    for (int i = 0; i < conc; i++) {
        memcpy(all + k, ws[i].lat, ws[i].n * 8);
        k += ws[i].n;
        free(ws[i].lat);
    }
    qsort(all, total, 8, cmp);
    printf(
        "{\"rps\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"requests\": %zu, \"errors\": %zu}\n",
        total / elapsed, total ? all[total / 2] / 1e3 : 0.0,
        total ? all[(size_t)(total * 0.99)] / 1e3 : 0.0, total, errors);
    free(all);
    free(ws);
    free(th);
    free(buf);
    for (int c = 0; c < channels; c++) grpc_channel_destroy(chs[c]);
    free(chs);
    grpc_shutdown();
    return errors ? 1 : 0;
}
