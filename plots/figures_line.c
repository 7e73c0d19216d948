/* figures_line.c — the line chart of a figure: a metric against a numeric axis, one series per
 * device x variant (the values of the axes that vary besides x), sorted by x. The x axis is
 * logarithmic (base 2 when most values are powers of two) where it spans 16x or more; its label
 * and unit come from the workload's chart declaration when x is the axis it names. */
#include "figures_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ab_status fig_line_fill(struct fig_plan *P, const struct figspec *fsp, const struct fig_group *g,
                        struct ab_plot_chart *ch, struct ab_error *err)
{
    const struct ab_chart_decl *cd = fsp->chart;
    bool declared_x = cd && cd->x && !strcmp(cd->x, fsp->x);
    const struct axinfo *xa = fig_find_axis(g->ax, g->na, fsp->x);
    snprintf(ch->xlabel, sizeof ch->xlabel, "%s", declared_x && cd->xlabel ? cd->xlabel : fsp->x);
    snprintf(ch->xunit, sizeof ch->xunit, "%s", declared_x && cd->xunit ? cd->xunit : "");
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int pow2 = 0, nx = 0;
    for (int k = 0; xa && k < xa->n; k++) {
        double v = strtod(xa->vals[k], NULL);
        xlo = fmin(xlo, v);
        xhi = fmax(xhi, v);
        nx++;
        pow2 += v >= 1 && v == floor(v) && ((int64_t)v & ((int64_t)v - 1)) == 0;
    }
    ab_status st = AB_OK;
    for (int i = 0; i < g->n; i++) {
        const struct prow *row = g->rows[i];
        char lab[256] = "", var[200];
        fig_variant_label(row, g->vary, g->nv, var, sizeof var);
        snprintf(lab, sizeof lab, "%s%s%s", g->one_dev ? "" : P->devs[row->dev].label,
                 !g->one_dev && var[0] ? " " : "", var);
        if (!lab[0])
            snprintf(lab, sizeof lab, "%s", P->devs[row->dev].label);
        int s = fig_series_get(ch, lab, g->n);
        if (s < 0) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            break;
        }
        struct ab_plot_series *se = &ch->series[s];
        const char *u;
        ab_plot_row_metric(row->r, fsp->metric, &se->y[se->n], &se->ylo[se->n], &se->yhi[se->n], &u);
        se->x[se->n] = strtod(fig_row_param(row, fsp->x), NULL);
        ylo = fmin(ylo, se->y[se->n]);
        yhi = fmax(yhi, se->y[se->n]);
        se->n++;
    }
    for (int s = 0; s < ch->n_series; s++)
        fig_sort_series_by_x(&ch->series[s]);
    if (xlo > 0 && xhi / xlo >= 16) {
        ch->xscale = pow2 * 2 >= nx ? AB_SCALE_LOG2 : AB_SCALE_LOG10;
        ch->xbinary = ch->xscale == AB_SCALE_LOG2 && xhi >= 1024;
    }
    bool b;
    ch->yscale = fig_value_scale(ylo, yhi, 30, &b);
    return st;
}
