#include "cli/progress.h"

#include <string.h>
#include <unistd.h>

#include "core/clock.h"

void ml_format_bytes(uint64_t n, char *buf, size_t cap) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    if (n < 1024) {
        snprintf(buf, cap, "%u B", (unsigned)n);
        return;
    }
    double v = (double)n;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, units[u]);
}

void ml_format_duration(double s, char *buf, size_t cap) {
    if (s < 0 || s > 359999.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    unsigned t = (unsigned)(s + 0.5);
    if (t < 60)
        snprintf(buf, cap, "%us", t);
    else if (t < 3600)
        snprintf(buf, cap, "%u:%02u", t / 60, t % 60);
    else
        snprintf(buf, cap, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
}

void ml_progress_text(uint64_t done, uint64_t total, double elapsed, char *buf, size_t cap) {
    char d[32], tot[32], rate[32], eta[32];
    ml_format_bytes(done, d, sizeof d);
    ml_format_bytes(total, tot, sizeof tot);
    double bps = elapsed > 0 ? (double)done / elapsed : 0;
    ml_format_bytes((uint64_t)bps, rate, sizeof rate);
    if (bps > 0 && total >= done)
        ml_format_duration((double)(total - done) / bps, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "--:--");
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
    snprintf(buf, cap, "%3u%%  %s / %s  %s/s  ETA %s", pct, d, tot, rate, eta);
}

void ml_progress_init(ml_progress *p, FILE *out, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->label = label;
    p->total = total;
    p->start_ns = p->last_ns = ml_now_ns();
    p->last_step = -1;
}

static void draw(ml_progress *p, uint64_t done, int final) {
    char text[160];
    double elapsed = (double)(ml_now_ns() - p->start_ns) / 1e9;
    ml_progress_text(done, p->total, elapsed, text, sizeof text);
    if (p->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        size_t fill = p->total ? (size_t)((double)done / (double)p->total * WIDTH) : WIDTH;
        if (fill > WIDTH) fill = WIDTH;
        memset(bar, '#', fill);
        memset(bar + fill, '-', WIDTH - fill);
        bar[WIDTH] = '\0';
        fprintf(p->out, "\r%s [%s] %s\033[K%s", p->label, bar, text, final ? "\n" : "");
    } else {
        fprintf(p->out, "%s: %s\n", p->label, text);
    }
    fflush(p->out);
}

void ml_progress_update(ml_progress *p, uint64_t done) {
    if (!p->out || p->finished) return;
    uint64_t now = ml_now_ns();
    if (p->tty) {
        if (now - p->last_ns < 100000000ull) return; /* redraw at most 10x per second */
        p->last_ns = now;
        draw(p, done, 0);
        return;
    }
    /* Plain mode: one line per 10% step, keeps logs short. */
    int step = p->total ? (int)(done * 10 / p->total) : 10;
    if (step > p->last_step && step < 10) {
        p->last_step = step;
        draw(p, done, 0);
    }
}

void ml_progress_finish(ml_progress *p, uint64_t done) {
    if (!p->out || p->finished) return;
    p->finished = 1;
    draw(p, done, 1);
}
