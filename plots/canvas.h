/* canvas.h — the drawing surface under the charts (internal to plots/).
 * User units are points (1/72 inch) on every surface; PNG scales them by dpi/72. Text goes
 * through pango, except on SVG where it is written as <text> elements after cairo finishes, so
 * that the words stay words (cairo 1.16 writes glyph outlines). */
#ifndef AB_PLOTS_CANVAS_H
#define AB_PLOTS_CANVAS_H

#include "plots.h"

#include <cairo.h>

struct canvas_text; /* text deferred to SVG elements */

struct canvas {
    cairo_surface_t *surf;
    cairo_t *cr;
    enum ab_plot_format fmt;
    double w, h; /* points */
    struct canvas_text *texts;
    int n_texts, cap_texts;
};

enum marker_kind {
    MARK_CIRCLE,
    MARK_SQUARE,
    MARK_TRIANGLE,
    MARK_DIAMOND,
    MARK_TRIANGLE_DOWN,
    MARK_CROSS,
    MARK_PLUS,
    MARK_STAR,
    MARK_COUNT
};

ab_status canvas_open(struct canvas *cv, enum ab_plot_format fmt, const char *tmp_path, double w, double h,
                      double dpi, struct ab_error *err);
/* Finish the surface and write the file (PNG, SVG text); frees everything either way. */
ab_status canvas_close(struct canvas *cv, const char *tmp_path, struct ab_error *err);

/* Text of `size_pt` at (x, y): ax, ay in [0,1] align the box (0 left/top, 0.5 centre, 1
 * right/bottom); angle in degrees, counter-clockwise (90: reading upwards). */
void canvas_text(struct canvas *cv, double x, double y, const char *s, double size_pt, double ax, double ay,
                 double angle, const double rgb[3]);
void canvas_text_size(struct canvas *cv, const char *s, double size_pt, double *w, double *h);

/* Series style: marker, dash pattern. */
void canvas_marker(cairo_t *cr, int series, double x, double y, double r);
void canvas_dash(cairo_t *cr, int series, double line_w);

#endif
