/* `apply -f`: create or update models and applications from YAML.
 *
 * Models (kind: Model) name a folder (`path:`, relative to the YAML file;
 * default the YAML file's own folder). The folder is packed
 * deterministically and its SHA-256 compared with the digest of the
 * model's latest version: equal means unchanged, otherwise it is uploaded
 * as a new version. The folder's own serving.yaml is what the server reads;
 * when the folder has none, the document itself (minus `path`) is packed
 * as its serving.yaml.
 *
 * Applications (kind: Application) are compared with the deployed ones
 * after resolving version-less model references to the latest version, and
 * PUT (create or replace) only when they differ. All models are applied
 * before any application, so an application can use a model defined in the
 * same run. */
#include <libgen.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/app_format.h"
#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/upload.h"
#include "cli/yaml_json.h"

#define MAX_SOURCES 256
#define MAX_DOCUMENTS 4096

static const ml_opt opts[] = {
    {"filename", 'f', ML_OPT_MULTI, "FILE|DIR|-",
     "YAML file, folder of *.yaml/*.yml, or - for stdin"},
    {"dry-run", 0, ML_OPT_FLAG, NULL, "show what would change without changing anything"},
    {"wait", 0, ML_OPT_VALUE, "SECONDS", "how long to wait for uploaded versions (default 120)"},
    {"quiet", 'q', ML_OPT_FLAG, NULL, "no upload progress output"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec spec = {
    "apply",
    "",
    "Creates or updates the models and applications described by multi-document YAML "
    "(kind: Model / kind: Application) and prints what changed. Idempotent: applying the same "
    "files twice changes nothing the second time.",
    "  mlambda apply -f app.yaml\n  mlambda apply -f deploy/ -f extra.yaml\n"
    "  cat app.yaml | mlambda apply -f -",
    opts,
    0,
    0};

typedef struct doc {
    json_t *body;          /* borrowed from the docs array */
    char origin[PATH_MAX]; /* file it came from ("<stdin>") */
    char base[PATH_MAX];   /* folder relative paths start from */
    int index;             /* document number inside the file, from 1 */
} doc;

typedef struct plan {
    doc *docs;
    size_t n;
    json_t *keep; /* owns every parsed documents array */
} plan;

static ml_status add_file(plan *p, const char *path) {
    json_t *docs;
    ML_TRY(ml_yaml_parse_file(path, &docs));
    json_array_append_new(p->keep, docs);
    size_t count = json_array_size(docs);
    if (p->n + count > MAX_DOCUMENTS)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "more than %d YAML documents to apply; split them into several runs",
                        MAX_DOCUMENTS);
    doc *grown = realloc(p->docs, (p->n + count + 1) * sizeof *grown);
    if (!grown) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    p->docs = grown;
    for (size_t i = 0; i < count; i++) {
        doc *d = &p->docs[p->n++];
        memset(d, 0, sizeof *d);
        d->body = json_array_get(docs, i);
        d->index = (int)i + 1;
        if (!strcmp(path, "-")) {
            snprintf(d->origin, sizeof d->origin, "<stdin>");
            snprintf(d->base, sizeof d->base, ".");
        } else {
            snprintf(d->origin, sizeof d->origin, "%s", path);
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof tmp, "%s", path);
            snprintf(d->base, sizeof d->base, "%s", dirname(tmp));
        }
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_yaml_name(const char *n) {
    size_t l = strlen(n);
    return n[0] != '.' &&
           ((l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")));
}

static ml_status add_source(plan *p, const char *src) {
    struct stat sb;
    if (strcmp(src, "-") != 0 && stat(src, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(src);
        if (!d) return ml_error(ML_ERR_IO, "cannot read folder %s", src);
        char *names[MAX_SOURCES];
        size_t n = 0;
        struct dirent *e;
        ml_status st = NULL;
        while ((e = readdir(d)))
            if (is_yaml_name(e->d_name)) {
                if (n == MAX_SOURCES) {
                    st = ml_error(ML_ERR_RESOURCE_EXHAUSTED, "%s has more than %d YAML files", src,
                                  MAX_SOURCES);
                    break;
                }
                if (!(names[n] = strdup(e->d_name))) {
                    st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
                    break;
                }
                n++;
            }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", src, names[i]);
            if (!st) st = add_file(p, path);
            free(names[i]);
        }
        if (!st && n == 0)
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "folder %s has no *.yaml or *.yml files", src);
        return st;
    }
    return add_file(p, src);
}

static const char *kind_of(const doc *d) {
    return ml_jstr(d->body, "kind", NULL);
}

/* Checks every document before anything is changed on the server. */
static ml_status validate(const doc *d) {
    if (!json_is_object(d->body))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: document %d is not a mapping", d->origin,
                        d->index);
    const char *kind = kind_of(d);
    const char *name = ml_jstr(d->body, "name", NULL);
    if (!kind || (strcmp(kind, "Model") != 0 && strcmp(kind, "Application") != 0))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "%s: document %d needs 'kind: Model' or 'kind: Application'%s%s", d->origin,
                        d->index, kind ? ", not " : "", kind ? kind : "");
    if (name && !ml_valid_name(name))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: document %d: '%s' is not a valid name",
                        d->origin, d->index, name);
    if (!strcmp(kind, "Application")) {
        if (!name)
            return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: document %d: an Application needs a name",
                            d->origin, d->index);
        json_t *stages;
        ml_status st = ml_app_stages(d->body, &stages);
        if (st) return ml_status_wrap(st, "%s: application %s", d->origin, name);
        json_decref(stages);
    } else {
        json_t *path = json_object_get(d->body, "path");
        if (path && !json_is_string(path))
            return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: model %s: 'path' must be a folder path",
                            d->origin, name ? name : "");
        json_t *labels = json_object_get(d->body, "labels");
        if (labels && !json_is_object(labels))
            return ml_error(ML_ERR_INVALID_ARGUMENT, "%s: model %s: 'labels' must be a mapping",
                            d->origin, name ? name : "");
    }
    return NULL;
}

typedef struct run {
    const ml_http_target *t;
    int dry_run, json, wait;
    FILE *progress;
    json_t *report; /* [{kind, name, action, ...}] */
} run;

static void report(run *r, const char *kind, const char *name, const char *action,
                   const char *detail) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name, "action", action);
    if (detail) json_object_set_new(o, "detail", json_string(detail));
    json_array_append_new(r->report, o);
    if (!r->json)
        printf("%s %s: %s%s%s%s\n", !strcmp(kind, "Model") ? "model" : "application", name, action,
               r->dry_run && strcmp(action, "unchanged") != 0 ? " (dry run)" : "",
               detail ? " " : "", detail ? detail : "");
    fflush(stdout);
}

static char *emit_to_string(const json_t *v, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    ml_status st = ml_yaml_emit(f, v);
    fclose(f);
    if (st) {
        ml_status_free(st);
        free(buf);
        return NULL;
    }
    return buf;
}

/* The newest version's number and digest ("" and 0 when the model is new or
 * has no versions left). One GET: the model answer lists its versions. */
static ml_status latest_digest(const ml_http_target *t, const char *name, long *latest,
                               char *digest, size_t cap) {
    long code;
    json_t *m = NULL;
    *latest = 0;
    digest[0] = '\0';
    char *path = ml_pathf("/api/v2/models/%s", name);
    ml_status st = ml_http_json(t, "GET", path, NULL, &code, &m);
    free(path);
    if (st && code == 404) {
        ml_status_free(st);
        return NULL;
    }
    if (st) return st;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "versions"), i, v) {
        long n = (long)json_integer_value(json_object_get(v, "version"));
        if (n > *latest) {
            *latest = n;
            snprintf(digest, cap, "%s", ml_jstr(v, "digest", ""));
        }
    }
    /* Numbers keep growing after deletions: report the next one honestly. */
    long announced = (long)json_integer_value(json_object_get(m, "latest_version"));
    if (announced > *latest && !digest[0]) *latest = announced;
    json_decref(m);
    return NULL;
}

static ml_status apply_model(run *r, const doc *d) {
    const json_t *b = d->body;
    char folder[2 * PATH_MAX + 2], sy[2 * PATH_MAX + 16];
    const char *path = ml_jstr(b, "path", NULL);
    if (!path)
        snprintf(folder, sizeof folder, "%s", d->base);
    else if (path[0] == '/')
        snprintf(folder, sizeof folder, "%s", path);
    else
        snprintf(folder, sizeof folder, "%s/%s", d->base, path);

    /* Pack the document as serving.yaml only when the folder has none of its own. */
    snprintf(sy, sizeof sy, "%s/serving.yaml", folder);
    struct stat sb;
    int folder_has = stat(sy, &sb) == 0;
    char *generated = NULL;
    size_t generated_len = 0;
    if (!folder_has) {
        json_t *copy = json_deep_copy(b);
        json_object_del(copy, "path");
        generated = emit_to_string(copy, &generated_len);
        json_decref(copy);
        if (!generated) return ml_error(ML_ERR_OUT_OF_MEMORY, "cannot render serving.yaml");
    }
    int n_labels = 0;
    const char *labels[64];
    char label_buf[64][512];
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(b, "labels"), k, v) {
        if (n_labels == 64) break;
        char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(label_buf[n_labels], sizeof label_buf[0], "%s=%s", k,
                 s ? s : json_string_value(v));
        free(s);
        labels[n_labels] = label_buf[n_labels];
        n_labels++;
    }
    ml_cli_upload_opts o = {
        .dir = folder,
        .name = ml_jstr(b, "name", NULL),
        .description = ml_jstr(b, "description", NULL),
        .labels = labels,
        .n_labels = n_labels,
        .payload = json_object_get(b, "payload"),
        .serving_yaml = generated,
        .serving_yaml_len = generated_len,
        .progress = r->progress,
        .wait_seconds = r->wait,
    };
    ml_prepared p;
    ml_status st = ml_cli_upload_prepare(&o, &p);
    if (st) {
        free(generated);
        return ml_status_wrap(st, "%s: model", d->origin);
    }
    long latest;
    char digest[128], detail[256];
    st = ml_cli_upload_digest(&o, &p);
    if (!st) st = latest_digest(r->t, p.name, &latest, digest, sizeof digest);
    if (!st && latest && !strcmp(digest, p.digest)) {
        snprintf(detail, sizeof detail, "(%s:%ld)", p.name, latest);
        report(r, "Model", p.name, "unchanged", detail);
    } else if (!st && r->dry_run) {
        snprintf(detail, sizeof detail, "(would upload %s:%ld)", p.name, latest + 1);
        report(r, "Model", p.name, latest ? "updated" : "created", detail);
    } else if (!st) {
        json_t *ver;
        st = ml_cli_upload_send(r->t, &o, &p, &ver);
        if (!st) {
            snprintf(detail, sizeof detail, "(%s:%lld)", p.name,
                     (long long)json_integer_value(json_object_get(ver, "version")));
            report(r, "Model", p.name, latest ? "updated" : "created", detail);
        }
        json_decref(ver);
    }
    ml_prepared_free(&p);
    free(generated); /* the upload streamed from it */
    return st;
}

/* Pins "name" (no version) to the model's latest version, in place. */
static ml_status resolve_refs(const ml_http_target *t, json_t *stages) {
    size_t i, j;
    json_t *s, *v;
    json_array_foreach(stages, i, s) {
        json_array_foreach(s, j, v) {
            const char *ref = ml_jstr(v, "model", "");
            if (strchr(ref, ':')) continue;
            json_t *m = NULL;
            char *path = ml_pathf("/api/v2/models/%s", ref);
            ml_status st = ml_http_json(t, "GET", path, NULL, NULL, &m);
            free(path);
            if (st) return ml_status_wrap(st, "model '%s'", ref);
            char pinned[300];
            snprintf(pinned, sizeof pinned, "%s:%lld", ref,
                     (long long)json_integer_value(json_object_get(m, "latest_version")));
            json_decref(m);
            json_object_set_new(v, "model", json_string(pinned));
        }
    }
    return NULL;
}

static ml_status apply_app(run *r, const doc *d) {
    const char *name = ml_jstr(d->body, "name", "");
    json_t *want = NULL, *have = NULL, *current = NULL;
    long code = 0;
    ml_status st = ml_app_stages(d->body, &want);
    if (!st) st = resolve_refs(r->t, want);
    char *path = ml_pathf("/api/v2/applications/%s", name);
    if (!st) {
        st = ml_http_json(r->t, "GET", path, NULL, &code, &current);
        if (st && code == 404) {
            ml_status_free(st);
            st = NULL;
        }
    }
    if (!st && current) {
        st = ml_app_stages(current, &have);
        if (!st) st = resolve_refs(r->t, have);
    }
    char before[1024] = "", after[1024] = "", detail[2100];
    if (!st) {
        ml_app_stages_text(want, after, sizeof after);
        if (have) ml_app_stages_text(have, before, sizeof before);
    }
    if (!st && have && ml_app_stages_equal(have, want)) {
        snprintf(detail, sizeof detail, "(%s)", after);
        report(r, "Application", name, "unchanged", detail);
    } else if (!st) {
        if (!r->dry_run) st = ml_http_json(r->t, "PUT", path, d->body, NULL, NULL);
        if (have)
            snprintf(detail, sizeof detail, "(%s => %s)", before, after);
        else
            snprintf(detail, sizeof detail, "(%s)", after);
        if (!st) report(r, "Application", name, have ? "updated" : "created", detail);
    }
    free(path);
    json_decref(want);
    json_decref(have);
    json_decref(current);
    return st ? ml_status_wrap(st, "application %s", name) : NULL;
}

int ml_cmd_apply(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    int n_src = 0;
    const char **src = ml_arg_multi(&a, "filename", &n_src);
    if (n_src == 0) {
        ml_args_free(&a);
        return ml_usage_error(&spec, "-f FILE|DIR|- is required");
    }
    const char *wait = ml_arg(&a, "wait");
    plan p = {.keep = json_array()};
    ml_status st = NULL;
    for (int i = 0; !st && i < n_src; i++) st = add_source(&p, src[i]);
    for (size_t i = 0; !st && i < p.n; i++) st = validate(&p.docs[i]);
    if (!st && p.n == 0) st = ml_error(ML_ERR_INVALID_ARGUMENT, "no YAML documents to apply");
    ml_client c = {0};
    if (!st) st = ml_client_open(&a, &c);
    int failures = 0, first_code = ML_EXIT_OK;
    json_t *rep = json_array();
    if (!st) {
        run r = {&c.target,
                 ml_arg_count(&a, "dry-run") > 0,
                 a.json,
                 wait ? atoi(wait) : 120,
                 ml_arg_count(&a, "quiet") ? NULL
                 : a.json                  ? stderr
                                           : stdout,
                 rep};
        /* Models first: applications may refer to them. */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < p.n; i++) {
                int is_model = !strcmp(kind_of(&p.docs[i]), "Model");
                if (is_model != (pass == 0)) continue;
                ml_status one = is_model ? apply_model(&r, &p.docs[i]) : apply_app(&r, &p.docs[i]);
                if (one) {
                    /* The exit code is the first failure's (3 = server down, ...). */
                    int code = ml_fail("apply", one);
                    if (!failures++) first_code = code;
                }
            }
        if (a.json) {
            json_t *out = json_pack("{s:O, s:i}", "results", rep, "failed", failures);
            ml_print_json(out);
            json_decref(out);
        } else if (p.n > 1) {
            int created = 0, updated = 0, unchanged = 0;
            size_t i;
            json_t *res;
            json_array_foreach(rep, i, res) {
                const char *act = ml_jstr(res, "action", "");
                created += !strcmp(act, "created");
                updated += !strcmp(act, "updated");
                unchanged += !strcmp(act, "unchanged");
            }
            printf("%s%d created, %d updated, %d unchanged, %d failed\n",
                   r.dry_run ? "dry run: " : "", created, updated, unchanged, failures);
        }
    }
    json_decref(rep);
    ml_client_close(&c);
    free(p.docs);
    json_decref(p.keep);
    ml_args_free(&a);
    if (st) return ml_fail("apply", st);
    return failures ? first_code : ML_EXIT_OK;
}
