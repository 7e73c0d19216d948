/* figures_bars.c — bars per case, and box plots of their timing samples: a category per
 * variant (the values of the axes that vary; a single case is named by its string axes), a
 * series per device. The value axis is logarithmic where the bars span 100x (samples: 10x).
 * DIST series point at the rows' samples, which the result set owns. */
#include "figures_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ab_status fig_bars_fill(struct fig_plan *P, const struct figspec *fsp, const struct fig_group *g,
                        struct ab_plot_chart *ch, struct ab_error *err)
{
    snprintf(ch->xlabel, sizeof ch->xlabel, "%s", "");
    char(*cats)[64] = calloc((size_t)g->n, sizeof *cats);
    if (!cats)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    ch->categories = cats;
    ab_status st = AB_OK;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < g->n; i++) {
        const struct prow *row = g->rows[i];
        char c[256];
        fig_variant_label(row, g->vary, g->nv, c, sizeof c);
        if (!c[0]) { /* a single case: name it by its string axes */
            struct axinfo *strs[AB_MAX_AXES];
            int nstr = 0;
            for (int a = 0; a < g->na; a++)
                if (!g->ax[a].numeric)
                    strs[nstr++] = &g->ax[a];
            fig_variant_label(row, strs, nstr, c, sizeof c);
        }
        int ci = 0;
        while (ci < ch->n_categories && strcmp(ch->categories[ci], c))
            ci++;
        if (ci == ch->n_categories)
            snprintf(ch->categories[ch->n_categories++], sizeof cats[0], "%s", c);
        int s = fig_series_get(ch, P->devs[row->dev].label, g->n);
        if (s < 0) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            break;
        }
        struct ab_plot_series *se = &ch->series[s];
        if (fsp->kind == AB_PLOT_DIST) {
            se->samples[ci] = row->r->samples;
            se->n_samples[ci] = row->r->n_samples;
            for (int64_t j = 0; j < row->r->n_samples; j++) {
                ylo = fmin(ylo, row->r->samples[j]);
                yhi = fmax(yhi, row->r->samples[j]);
            }
        } else {
            const char *u;
            ab_plot_row_metric(row->r, fsp->metric, &se->y[ci], &se->ylo[ci], &se->yhi[ci], &u);
            ylo = fmin(ylo, se->y[ci]);
            yhi = fmax(yhi, se->y[ci]);
        }
    }
    for (int s = 0; s < ch->n_series; s++)
        ch->series[s].n = ch->n_categories;
    bool b;
    ch->yscale = fig_value_scale(ylo, yhi, fsp->kind == AB_PLOT_DIST ? 10 : 100, &b);
    return st;
}
