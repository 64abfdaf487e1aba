#include "cli/payload.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/yaml_json.h"

#define SERVING_YAML "serving.yaml"
#define PATH_CAP 4096

void ml_pack_list_free(ml_pack_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

static ml_status list_push(ml_pack_list *l, const char *path) {
    if (l->n >= ML_PACK_MAX_FILES)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "the model folder has more than %d files; narrow it down with "
                        "'payload' in serving.yaml",
                        ML_PACK_MAX_FILES);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory listing files");
        l->paths = p;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory listing files");
    l->n++;
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ml_status ml_pack_read_serving(const char *dir, json_t **doc) {
    char path[PATH_CAP];
    *doc = NULL;
    if (snprintf(path, sizeof path, "%s/%s", dir, SERVING_YAML) >= (int)sizeof path)
        return ml_error(ML_ERR_INVALID_ARGUMENT, "model folder path is too long");
    if (access(path, F_OK) != 0) return NULL;
    json_t *docs;
    ML_TRY(ml_yaml_parse_file(path, &docs));
    ml_status st = NULL;
    json_t *d = json_array_get(docs, 0);
    if (json_array_size(docs) != 1 || !json_is_object(d))
        st = ml_error(ML_ERR_INVALID_ARGUMENT,
                      "%s: expected one YAML mapping (kind: Model, "
                      "name, runtime, payload, contract)",
                      path);
    else if (json_object_get(d, "kind") &&
             (!json_is_string(json_object_get(d, "kind")) ||
              strcmp(json_string_value(json_object_get(d, "kind")), "Model") != 0))
        st = ml_error(ML_ERR_INVALID_ARGUMENT, "%s: 'kind' must be Model", path);
    if (!st) *doc = json_incref(d);
    json_decref(docs);
    return st;
}

/* Collects every regular file below root/rel in sorted order. Symlinks are
 * followed (the archive holds their content); the depth limit stops loops. */
static ml_status walk(const char *root, const char *rel, int depth, ml_pack_list *out) {
    if (depth > ML_PACK_MAX_DEPTH)
        return ml_error(ML_ERR_RESOURCE_EXHAUSTED,
                        "%s/%s is nested more than %d levels deep (a symlink loop?)", root, rel,
                        ML_PACK_MAX_DEPTH);
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return ml_error(ML_ERR_IO, "cannot read folder %s: %s", path, strerror(errno));
    ml_pack_list names = {0};
    ml_status st = NULL;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        st = list_push(&names, e->d_name);
    }
    closedir(d);
    if (!st) qsort(names.paths, names.n, sizeof *names.paths, cmp_str);
    for (size_t i = 0; !st && i < names.n; i++) {
        char child[PATH_CAP], full[PATH_CAP];
        int n1 = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", names.paths[i]);
        int n2 = snprintf(full, sizeof full, "%s/%s", root, child);
        if (n1 >= (int)sizeof child || n2 >= (int)sizeof full) {
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "path too long under %s", path);
            break;
        }
        struct stat sb;
        if (stat(full, &sb) != 0) {
            fprintf(stderr, "warning: skipping %s: %s\n", full, strerror(errno));
            continue;
        }
        if (S_ISDIR(sb.st_mode))
            st = walk(root, child, depth + 1, out);
        else if (S_ISREG(sb.st_mode))
            st = list_push(out, child);
        else
            fprintf(stderr, "warning: skipping %s: not a regular file\n", full);
    }
    ml_pack_list_free(&names);
    return st;
}

/* Does the pattern select `rel` itself or one of its parent folders? */
static int pattern_selects(const char *pat, const char *rel) {
    int flags = strstr(pat, "**") ? 0 : FNM_PATHNAME;
    if (fnmatch(pat, rel, flags) == 0) return 1;
    /* "**" + "/" also matches zero folders, as in .gitignore: "**" + "/x.txt" selects x.txt. */
    if (!strncmp(pat, "**/", 3) && pattern_selects(pat + 3, rel)) return 1;
    char prefix[PATH_CAP];
    for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
        size_t n = (size_t)(p - rel);
        if (n >= sizeof prefix) break;
        memcpy(prefix, rel, n);
        prefix[n] = '\0';
        if (fnmatch(pat, prefix, flags) == 0) return 1;
    }
    return 0;
}

/* Strips "./" prefixes and trailing '/'; rejects absolute and ".." patterns. */
static ml_status normalize_pattern(const char *in, char *out, size_t cap) {
    while (in[0] == '.' && in[1] == '/') in += 2;
    if (!*in || in[0] == '/' || !strcmp(in, "..") || !strncmp(in, "../", 3) || strstr(in, "/../") ||
        strlen(in) >= cap)
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "payload pattern '%s' must be a relative path inside the model folder", in);
    snprintf(out, cap, "%s", in);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    if (!strcmp(out, ".")) out[0] = '*', out[1] = '*', out[2] = '\0'; /* "." = the whole folder */
    return NULL;
}

ml_status ml_pack_collect(const char *dir, const json_t *payload, ml_pack_list *out) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ml_error(ML_ERR_INVALID_ARGUMENT,
                        "model folder '%s' does not exist or is not a folder", dir);
    if (payload && !json_is_null(payload) && !json_is_array(payload) && !json_is_string(payload))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "'payload' in serving.yaml must be a list of "
                                                 "file globs");
    ml_pack_list all = {0};
    ML_TRY(walk(dir, "", 0, &all));
    size_t npat = json_is_array(payload) ? json_array_size(payload) : json_is_string(payload);
    if (npat == 0) {
        *out = all;
        return NULL;
    }
    char(*pats)[PATH_CAP] = calloc(npat, PATH_CAP);
    unsigned char *used = calloc(npat, 1);
    ml_status st = pats && used ? NULL : ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t k = 0; !st && k < npat; k++) {
        const json_t *p = json_is_array(payload) ? json_array_get(payload, k) : payload;
        if (!json_is_string(p))
            st = ml_error(ML_ERR_INVALID_ARGUMENT, "payload entry #%zu must be a string glob",
                          k + 1);
        else
            st = normalize_pattern(json_string_value(p), pats[k], PATH_CAP);
    }
    for (size_t i = 0; !st && i < all.n; i++) {
        int keep = !strcmp(all.paths[i], SERVING_YAML);
        for (size_t k = 0; k < npat; k++)
            if (pattern_selects(pats[k], all.paths[i])) keep = used[k] = 1;
        if (keep) st = list_push(out, all.paths[i]);
    }
    for (size_t k = 0; !st && k < npat; k++)
        if (!used[k])
            st = ml_error(ML_ERR_INVALID_ARGUMENT,
                          "payload pattern '%s' matches no file in %s; fix 'payload' in "
                          "serving.yaml",
                          pats[k], dir);
    free(pats);
    free(used);
    ml_pack_list_free(&all);
    if (st) ml_pack_list_free(out);
    return st;
}
