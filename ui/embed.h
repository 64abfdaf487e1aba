/* Web UI files compiled into the binary (generated from ui/ at build time),
 * so `mlambda serve` alone serves the UI. */
#ifndef MLAMBDA_UI_EMBED_H
#define MLAMBDA_UI_EMBED_H

#include <stddef.h>

typedef struct ml_ui_asset {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong ETag (content hash), quoted */
} ml_ui_asset;

/* Asset for a request path ("/" maps to "/index.html"), or NULL. */
const ml_ui_asset *ml_ui_find(const char *path);

#endif
