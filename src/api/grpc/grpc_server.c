/* gRPC transport on the C core API: one completion queue per worker thread;
 * each worker asks for a call, reads the single request message, runs the
 * handler and sends the reply with the status. Unary methods only (both
 * services are unary). */
#include "api/grpc/grpc_server.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/grpc/grpc_services.h"
#include "core/clock.h"
#include "core/log.h"
#include "serving/runtime.h"

typedef struct worker {
    pthread_t thread;
    bool started;
    grpc_completion_queue *cq;
    struct ml_grpc_server *srv;
} worker;

struct ml_grpc_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    ml_runtime *rt;
    worker *workers;
    size_t n_workers;
    int port;
    unsigned drain_timeout_s;
    unsigned request_timeout_ms;
    const ml_auth *auth;
    atomic_bool stopping;
};

void ml_grpc_config_init(ml_grpc_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 9091;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->n_workers = cpus > 2 ? (size_t)cpus * 2 : 4;
    c->max_message_bytes = 64u << 20;
    c->drain_timeout_s = 30;
}

/* Waits for the event of the single operation batch a worker has in flight. */
static bool wait_batch(grpc_completion_queue *cq, void *tag) {
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) return false;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag) return ev.success != 0;
    }
}

/* The call's deadline on the ml_now_ns() clock, 0 when it has none. */
static uint64_t deadline_ns(gpr_timespec deadline) {
    if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) return 0;
    int64_t left_ms = gpr_time_to_millis(gpr_time_sub(deadline, gpr_now(deadline.clock_type)));
    if (left_ms < 0) left_ms = 0;
    /* a distant deadline (years) is no deadline; also keeps the sum in range */
    if (left_ms > (int64_t)1000 * 3600 * 24 * 365) return 0;
    return ml_now_ns() + (uint64_t)left_ms * 1000000u + 1;
}

static bool deadline_passed(gpr_timespec deadline) {
    if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) return false;
    return gpr_time_cmp(gpr_now(deadline.clock_type), deadline) > 0;
}

/* Sends the reply (when status is OK) and the status, then waits for the
 * client's close. */
static void finish_call(worker *w, grpc_call *call, grpc_status_code code, const char *message,
                        const ml_grpc_reply *reply) {
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    grpc_byte_buffer *out = NULL;
    if (code == GRPC_STATUS_OK && reply) {
        grpc_slice slice = grpc_slice_from_copied_buffer((const char *)reply->bytes, reply->len);
        out = grpc_raw_byte_buffer_create(&slice, 1);
        grpc_slice_unref(slice);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = out;
        n++;
    }
    grpc_slice details = grpc_slice_from_copied_string(message ? message : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &details;
    n++;
    int cancelled = 0;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &cancelled;
    n++;
    static int tag_finish;
    if (grpc_call_start_batch(call, ops, n, &tag_finish, NULL) == GRPC_CALL_OK)
        wait_batch(w->cq, &tag_finish);
    grpc_slice_unref(details);
    if (out) grpc_byte_buffer_destroy(out);
}

/* Health probes need no token; everything else does when auth is on. */
static bool authorized(const ml_grpc_server *s, const char *method, size_t mlen,
                       const grpc_metadata_array *md) {
    if (!s->auth) return true;
    static const char *const open[] = {"/inference.GRPCInferenceService/ServerLive",
                                       "/inference.GRPCInferenceService/ServerReady"};
    for (size_t i = 0; i < sizeof open / sizeof *open; i++)
        if (mlen == strlen(open[i]) && !memcmp(method, open[i], mlen)) return true;
    for (size_t i = 0; i < md->count; i++) {
        const grpc_slice *k = &md->metadata[i].key, *v = &md->metadata[i].value;
        if (GRPC_SLICE_LENGTH(*k) == 13 && !memcmp(GRPC_SLICE_START_PTR(*k), "authorization", 13))
            return ml_auth_check_n(s->auth, (const char *)GRPC_SLICE_START_PTR(*v),
                                   GRPC_SLICE_LENGTH(*v));
    }
    return false;
}

static void handle_call(worker *w, grpc_call *call, const grpc_call_details *details,
                        const grpc_metadata_array *md) {
    grpc_byte_buffer *in = NULL;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 0;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &in;
    static int tag_recv;
    if (grpc_call_start_batch(call, ops, 2, &tag_recv, NULL) != GRPC_CALL_OK ||
        !wait_batch(w->cq, &tag_recv)) {
        if (in) grpc_byte_buffer_destroy(in);
        finish_call(w, call, GRPC_STATUS_CANCELLED, "the call ended before its request arrived",
                    NULL);
        return;
    }
    const char *method = (const char *)GRPC_SLICE_START_PTR(details->method);
    size_t method_len = GRPC_SLICE_LENGTH(details->method);
    ml_grpc_handler handler = ml_grpc_find_handler(method, method_len);
    ML_LOG_D("gRPC call %.*s, deadline clock %d in %lld ms", (int)method_len, method,
             (int)details->deadline.clock_type,
             deadline_passed(details->deadline)
                 ? -1LL
                 : (long long)gpr_time_to_millis(
                       gpr_time_sub(details->deadline, gpr_now(details->deadline.clock_type))));
    char msg[1024];
    if (!authorized(w->srv, method, method_len, md)) {
        finish_call(w, call, GRPC_STATUS_UNAUTHENTICATED,
                    "missing or wrong bearer token: send metadata 'authorization: Bearer "
                    "<token>' (mlambda cluster add --token)",
                    NULL);
    } else if (!handler) {
        snprintf(msg, sizeof msg, "method %.*s is not implemented by mlambda", (int)method_len,
                 method);
        finish_call(w, call, GRPC_STATUS_UNIMPLEMENTED, msg, NULL);
    } else if (!in) {
        finish_call(w, call, GRPC_STATUS_INVALID_ARGUMENT, "the call carried no request message",
                    NULL);
    } else if (deadline_passed(details->deadline)) {
        finish_call(w, call, GRPC_STATUS_DEADLINE_EXCEEDED,
                    "the deadline passed before the call started", NULL);
    } else {
        grpc_byte_buffer_reader reader;
        grpc_slice body = grpc_empty_slice();
        if (grpc_byte_buffer_reader_init(&reader, in)) {
            body = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        }
        ml_grpc_reply reply = {0};
        ml_grpc_call gc = {.rt = w->srv->rt, .deadline_ns = deadline_ns(details->deadline)};
        unsigned def_ms = w->srv->request_timeout_ms;
        if (def_ms && !gc.deadline_ns) gc.deadline_ns = ml_now_ns() + (uint64_t)def_ms * 1000000u;
        ml_status st = handler(&gc, GRPC_SLICE_START_PTR(body), GRPC_SLICE_LENGTH(body), &reply);
        grpc_slice_unref(body);
        if (st) {
            finish_call(w, call, (grpc_status_code)ml_grpc_status_from_code(ml_status_code(st)),
                        ml_status_message(st), NULL);
            ml_status_free(st);
        } else if (deadline_passed(details->deadline)) {
            finish_call(w, call, GRPC_STATUS_DEADLINE_EXCEEDED,
                        "the deadline passed while the request was running", NULL);
        } else {
            finish_call(w, call, GRPC_STATUS_OK, "", &reply);
        }
        free(reply.bytes);
    }
    if (in) grpc_byte_buffer_destroy(in);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    static int tag_new;
    while (!atomic_load(&w->srv->stopping)) {
        grpc_call *call = NULL;
        grpc_call_details details;
        grpc_metadata_array md;
        grpc_call_details_init(&details);
        grpc_metadata_array_init(&md);
        grpc_call_error err =
            grpc_server_request_call(w->srv->server, &call, &details, &md, w->cq, w->cq, &tag_new);
        bool got = err == GRPC_CALL_OK && wait_batch(w->cq, &tag_new);
        if (got && call) {
            ml_load_enter();
            handle_call(w, call, &details, &md);
            ml_load_leave();
        }
        if (call) grpc_call_unref(call);
        grpc_call_details_destroy(&details);
        grpc_metadata_array_destroy(&md);
        if (!got) break; /* the server is shutting down */
    }
    return NULL;
}

static void destroy(ml_grpc_server *s) {
    for (size_t i = 0; i < s->n_workers; i++) {
        worker *w = &s->workers[i];
        if (w->started) pthread_join(w->thread, NULL);
        if (w->cq) {
            grpc_completion_queue_shutdown(w->cq);
            while (
                grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
                GRPC_QUEUE_SHUTDOWN) {
            }
            grpc_completion_queue_destroy(w->cq);
        }
    }
    if (s->server) grpc_server_destroy(s->server);
    if (s->shutdown_cq) {
        grpc_completion_queue_shutdown(s->shutdown_cq);
        while (grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(s->shutdown_cq);
    }
    free(s->workers);
    free(s);
    grpc_shutdown();
}

ml_status ml_grpc_server_start(const ml_grpc_config *cfg, ml_runtime *rt, ml_grpc_server **out) {
    *out = NULL;
    ml_grpc_config defaults;
    ml_grpc_config_init(&defaults);
    if (!cfg) cfg = &defaults;
    if (cfg->port < 0 || cfg->port > 65535)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "gRPC port %d is outside 0..65535", cfg->port);
    grpc_init();
    ml_grpc_server *s = calloc(1, sizeof *s);
    size_t n = cfg->n_workers ? cfg->n_workers : defaults.n_workers;
    if (s) s->workers = calloc(n, sizeof *s->workers);
    if (!s || !s->workers) {
        free(s);
        grpc_shutdown();
        return ml_error(ML_ERR_OUT_OF_MEMORY, "gRPC server");
    }
    s->rt = rt;
    s->n_workers = n;
    s->drain_timeout_s = cfg->drain_timeout_s ? cfg->drain_timeout_s : defaults.drain_timeout_s;
    s->request_timeout_ms = cfg->request_timeout_ms;
    s->auth = cfg->auth;
    atomic_init(&s->stopping, false);

    size_t max_msg = cfg->max_message_bytes ? cfg->max_message_bytes : defaults.max_message_bytes;
    if (max_msg > INT32_MAX) max_msg = INT32_MAX;
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_msg;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)max_msg;
    grpc_channel_args channel_args = {2, args};
    s->server = grpc_server_create(&channel_args, NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    for (size_t i = 0; i < n; i++) {
        s->workers[i].srv = s;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    char addr[300];
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1";
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, cfg->port);
    grpc_server_credentials *creds;
    if (cfg->tls_cert_pem && cfg->tls_key_pem) {
        grpc_ssl_pem_key_cert_pair pair = {cfg->tls_key_pem, cfg->tls_cert_pem};
        creds = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    s->port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port <= 0) {
        destroy(s);
        return ml_error(ML_ERR_UNAVAILABLE,
                        "cannot listen for gRPC on %s: the port is in use or the address is not "
                        "local; choose another with --grpc-port",
                        addr);
    }
    grpc_server_start(s->server);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            ml_grpc_server_shutdown(s);
            return ml_error(ML_ERR_UNAVAILABLE, "could not start gRPC worker thread %zu", i);
        }
        s->workers[i].started = true;
    }
    ML_LOG_I("gRPC listening on %s:%d (%zu workers%s)", host, s->port, n,
             cfg->tls_cert_pem && cfg->tls_key_pem ? ", TLS" : "");
    *out = s;
    return ML_STATUS_OK;
}

int ml_grpc_server_port(const ml_grpc_server *s) {
    return s->port;
}

void ml_grpc_server_shutdown(ml_grpc_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, true);
    static int tag_shutdown;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &tag_shutdown);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_seconds(s->drain_timeout_s, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(s->shutdown_cq, deadline, NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        ML_LOG_W("gRPC calls still running after %us; cancelling them", s->drain_timeout_s);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    destroy(s);
}
