/* canvas.c — cairo surfaces for PDF, SVG and PNG, text through pango, series styles.
 * Sizes are in points on every surface (pango is told 72 dpi so a 9 pt font is 9 user units).
 * On SVG the words are kept as <text> elements appended after cairo has written the drawing,
 * because cairo 1.16 turns glyphs into outlines that no reader can select or search. */
#include "canvas.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

#define FONT_FAMILY "DejaVu Sans"

struct canvas_text {
    double x, y, angle, size, rgb[3];
    int anchor; /* 0 start, 1 middle, 2 end */
    double dy;  /* baseline offset in the rotated frame */
    char *s;
};

ab_status canvas_open(struct canvas *cv, enum ab_plot_format fmt, const char *tmp_path, double w, double h,
                      double dpi, struct ab_error *err)
{
    memset(cv, 0, sizeof *cv);
    cv->fmt = fmt;
    cv->w = w;
    cv->h = h;
    switch (fmt) {
    case AB_FMT_PDF: cv->surf = cairo_pdf_surface_create(tmp_path, w, h); break;
    case AB_FMT_SVG: cv->surf = cairo_svg_surface_create(tmp_path, w, h); break;
    case AB_FMT_PNG: {
        int pw = (int)ceil(w * dpi / 72.0), ph = (int)ceil(h * dpi / 72.0);
        cv->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph);
        break;
    }
    }
    if (!cv->surf || cairo_surface_status(cv->surf) != CAIRO_STATUS_SUCCESS) {
        ab_status st = ab_fail(err, AB_EIO, "%s: cannot create the surface: %s", tmp_path,
                               cv->surf ? cairo_status_to_string(cairo_surface_status(cv->surf)) : "?");
        if (cv->surf)
            cairo_surface_destroy(cv->surf);
        cv->surf = NULL;
        return st;
    }
    cv->cr = cairo_create(cv->surf);
    if (fmt == AB_FMT_PNG)
        cairo_scale(cv->cr, dpi / 72.0, dpi / 72.0);
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    return AB_OK;
}

static void xml_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Insert the deferred <text> elements before the closing </svg> that cairo wrote. */
static ab_status svg_add_text(struct canvas *cv, const char *path, struct ab_error *err)
{
    char *doc = NULL;
    size_t len = 0;
    ab_status st = ab_read_file(path, &doc, &len, err);
    if (st != AB_OK)
        return st;
    char *end = NULL;
    for (char *p = strstr(doc, "</svg>"); p; p = strstr(p + 1, "</svg>"))
        end = p;
    if (!end) {
        free(doc);
        return ab_fail(err, AB_EIO, "%s: cairo wrote no </svg>", path);
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        free(doc);
        return ab_fail(err, AB_EIO, "%s: cannot write", path);
    }
    fwrite(doc, 1, (size_t)(end - doc), f);
    static const char *const anchors[] = { "start", "middle", "end" };
    fprintf(f, "<g font-family=\"%s, sans-serif\">\n", FONT_FAMILY);
    for (int i = 0; i < cv->n_texts; i++) {
        const struct canvas_text *t = &cv->texts[i];
        fprintf(f,
                "<text transform=\"translate(%.2f %.2f) rotate(%.2f)\" x=\"0\" y=\"%.2f\" "
                "font-size=\"%.2f\" text-anchor=\"%s\" fill=\"#%02x%02x%02x\">",
                t->x, t->y, -t->angle, t->dy, t->size, anchors[t->anchor], (int)lround(t->rgb[0] * 255),
                (int)lround(t->rgb[1] * 255), (int)lround(t->rgb[2] * 255));
        xml_escape(f, t->s);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
    fputs(end, f);
    free(doc);
    if (ferror(f) | (fclose(f) != 0))
        return ab_fail(err, AB_EIO, "%s: write failed", path);
    return AB_OK;
}

ab_status canvas_close(struct canvas *cv, const char *tmp_path, struct ab_error *err)
{
    ab_status st = AB_OK;
    if (cv->cr) {
        cairo_status_t cs = cairo_status(cv->cr);
        if (cs != CAIRO_STATUS_SUCCESS)
            st = ab_fail(err, AB_EFAIL, "%s: drawing failed: %s", tmp_path, cairo_status_to_string(cs));
        cairo_destroy(cv->cr);
    }
    if (cv->surf) {
        if (st == AB_OK && cv->fmt == AB_FMT_PNG) {
            cairo_status_t cs = cairo_surface_write_to_png(cv->surf, tmp_path);
            if (cs != CAIRO_STATUS_SUCCESS)
                st = ab_fail(err, AB_EIO, "%s: cannot write PNG: %s", tmp_path, cairo_status_to_string(cs));
        }
        cairo_surface_finish(cv->surf);
        cairo_status_t cs = cairo_surface_status(cv->surf);
        if (st == AB_OK && cs != CAIRO_STATUS_SUCCESS)
            st = ab_fail(err, AB_EIO, "%s: cannot write: %s", tmp_path, cairo_status_to_string(cs));
        cairo_surface_destroy(cv->surf);
    }
    if (st == AB_OK && cv->fmt == AB_FMT_SVG)
        st = svg_add_text(cv, tmp_path, err);
    for (int i = 0; i < cv->n_texts; i++)
        free(cv->texts[i].s);
    free(cv->texts);
    memset(cv, 0, sizeof *cv);
    return st;
}

static PangoLayout *layout_for(struct canvas *cv, const char *s, double size_pt)
{
    PangoLayout *lay = pango_cairo_create_layout(cv->cr);
    PangoContext *ctx = pango_layout_get_context(lay);
    pango_cairo_context_set_resolution(ctx, 72.0);
    /* Unhinted metrics: the same layout on every surface and at every DPI. */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo);
    cairo_font_options_destroy(fo);
    pango_layout_context_changed(lay);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, FONT_FAMILY);
    pango_font_description_set_absolute_size(fd, size_pt * PANGO_SCALE);
    pango_layout_set_font_description(lay, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(lay, s, -1);
    return lay;
}

void canvas_text_size(struct canvas *cv, const char *s, double size_pt, double *w, double *h)
{
    PangoLayout *lay = layout_for(cv, s, size_pt);
    PangoRectangle ink, logical;
    pango_layout_get_extents(lay, &ink, &logical);
    *w = (double)logical.width / PANGO_SCALE;
    *h = (double)logical.height / PANGO_SCALE;
    g_object_unref(lay);
}

void canvas_text(struct canvas *cv, double x, double y, const char *s, double size_pt, double ax, double ay,
                 double angle, const double rgb[3])
{
    if (!s || !*s)
        return;
    PangoLayout *lay = layout_for(cv, s, size_pt);
    PangoRectangle ink, logical;
    pango_layout_get_extents(lay, &ink, &logical);
    double w = (double)logical.width / PANGO_SCALE, h = (double)logical.height / PANGO_SCALE;
    double base = (double)pango_layout_get_baseline(lay) / PANGO_SCALE;
    if (cv->fmt == AB_FMT_SVG) {
        if (cv->n_texts == cv->cap_texts) {
            int cap = cv->cap_texts ? 2 * cv->cap_texts : 64;
            struct canvas_text *t = realloc(cv->texts, (size_t)cap * sizeof *t);
            if (!t) {
                g_object_unref(lay);
                return;
            }
            cv->texts = t;
            cv->cap_texts = cap;
        }
        struct canvas_text *t = &cv->texts[cv->n_texts];
        t->s = strdup(s);
        if (!t->s) {
            g_object_unref(lay);
            return;
        }
        cv->n_texts++;
        t->x = x;
        t->y = y;
        t->angle = angle;
        t->size = size_pt;
        memcpy(t->rgb, rgb, sizeof t->rgb);
        t->anchor = ax < 0.25 ? 0 : ax > 0.75 ? 2 : 1;
        double shift = (t->anchor == 0 ? 0 : t->anchor == 1 ? 0.5 : 1) - ax;
        t->dy = -ay * h + base;
        /* a non-standard ax moves the anchor point along the text */
        if (fabs(shift) > 1e-9) {
            double a = -angle * M_PI / 180.0;
            t->x += shift * w * cos(a);
            t->y += shift * w * sin(a);
        }
    } else {
        cairo_t *cr = cv->cr;
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_rotate(cr, -angle * M_PI / 180.0);
        cairo_move_to(cr, -ax * w, -ay * h);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        pango_cairo_show_layout(cr, lay);
        cairo_restore(cr);
    }
    g_object_unref(lay);
}

void canvas_marker(cairo_t *cr, int series, double x, double y, double r)
{
    enum marker_kind k = (enum marker_kind)(series % MARK_COUNT);
    cairo_new_path(cr);
    switch (k) {
    case MARK_CIRCLE: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    case MARK_SQUARE: cairo_rectangle(cr, x - r * 0.85, y - r * 0.85, 1.7 * r, 1.7 * r); break;
    case MARK_TRIANGLE:
        cairo_move_to(cr, x, y - 1.15 * r);
        cairo_line_to(cr, x + r, y + 0.7 * r);
        cairo_line_to(cr, x - r, y + 0.7 * r);
        cairo_close_path(cr);
        break;
    case MARK_DIAMOND:
        cairo_move_to(cr, x, y - 1.2 * r);
        cairo_line_to(cr, x + r, y);
        cairo_line_to(cr, x, y + 1.2 * r);
        cairo_line_to(cr, x - r, y);
        cairo_close_path(cr);
        break;
    case MARK_TRIANGLE_DOWN:
        cairo_move_to(cr, x, y + 1.15 * r);
        cairo_line_to(cr, x + r, y - 0.7 * r);
        cairo_line_to(cr, x - r, y - 0.7 * r);
        cairo_close_path(cr);
        break;
    case MARK_CROSS:
        cairo_move_to(cr, x - r, y - r);
        cairo_line_to(cr, x + r, y + r);
        cairo_move_to(cr, x - r, y + r);
        cairo_line_to(cr, x + r, y - r);
        break;
    case MARK_PLUS:
        cairo_move_to(cr, x - 1.2 * r, y);
        cairo_line_to(cr, x + 1.2 * r, y);
        cairo_move_to(cr, x, y - 1.2 * r);
        cairo_line_to(cr, x, y + 1.2 * r);
        break;
    case MARK_STAR:
        for (int i = 0; i < 3; i++) {
            double a = M_PI / 2 + i * M_PI / 3;
            cairo_move_to(cr, x + 1.2 * r * cos(a), y + 1.2 * r * sin(a));
            cairo_line_to(cr, x - 1.2 * r * cos(a), y - 1.2 * r * sin(a));
        }
        break;
    default: break;
    }
    double rgb[3];
    ab_plot_palette(series, rgb);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_width(cr, 1.0);
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    if (k <= MARK_TRIANGLE_DOWN) {
        /* second round of the palette: open markers, so 16 series stay distinct */
        if ((series / MARK_COUNT) % 2 == 0)
            cairo_fill_preserve(cr);
        else {
            cairo_save(cr);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_fill_preserve(cr);
            cairo_restore(cr);
        }
    } else
        cairo_set_line_width(cr, 1.4);
    cairo_stroke(cr);
}

void canvas_dash(cairo_t *cr, int series, double line_w)
{
    static const double pat[4][4] = { { 0 }, { 5, 2.5 }, { 1.2, 2 }, { 6, 2, 1.2, 2 } };
    static const int npat[4] = { 0, 2, 2, 4 };
    int k = series % 4;
    double d[4];
    for (int i = 0; i < npat[k]; i++)
        d[i] = pat[k][i] * line_w * 1.2;
    cairo_set_line_width(cr, line_w);
    cairo_set_dash(cr, d, npat[k], 0);
}

void ab_plot_palette(int i, double rgb[3])
{
    /* Okabe & Ito (2008) colour-blind-safe set without its yellow, which vanishes on white. */
    static const double pal[7][3] = {
        { 0.000, 0.447, 0.698 }, /* blue */
        { 0.835, 0.369, 0.000 }, /* vermillion */
        { 0.000, 0.620, 0.451 }, /* bluish green */
        { 0.800, 0.475, 0.655 }, /* reddish purple */
        { 0.902, 0.624, 0.000 }, /* orange */
        { 0.337, 0.706, 0.914 }, /* sky blue */
        { 0.000, 0.000, 0.000 }, /* black */
    };
    int k = ((i % 7) + 7) % 7;
    memcpy(rgb, pal[k], sizeof pal[k]);
}
