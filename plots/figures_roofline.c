/* figures_roofline.c — a roofline per device (per host and rank where results mix them): every
 * case whose FLOPs and bytes are known, at its arithmetic intensity, under the device's ceilings
 * that its rows were held against: compute roofs flat, the memory bandwidth a slope. Series are
 * workload and dtype, or the workload alone where that makes more than ten. */
#include "figures_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rooflines: one per device that has ceilings, with every case whose FLOPs and bytes are known. */
ab_status fig_plan_rooflines(struct fig_plan *P, bool explicit_ask, struct ab_error *err)
{
    int made = 0;
    for (int d = 0; d < P->n_devs; d++) {
        struct ab_plot_roof roofs[AB_PLOT_MAX_ROOFS];
        int nr = 0, npts = 0;
        for (int i = 0; i < P->n; i++) {
            const struct ab_result *r = P->rows[i].r;
            if (P->rows[i].dev != d)
                continue;
            if (r->flops > 0 && r->bytes > 0 && r->flop_per_s > 0)
                npts++;
            if (!r->ceiling[0] || !(r->ceiling_value > 0))
                continue;
            /* compute roofs, and memory's; a cache's bandwidth (llc_bw) is no roof here */
            bool bw = ab_ceiling_is_bandwidth(r->ceiling);
            if (bw && strcmp(r->ceiling, "mem_bw") != 0)
                continue;
            int k = 0;
            while (k < nr && strcmp(roofs[k].name, r->ceiling))
                k++;
            if (k == nr) {
                if (nr == AB_PLOT_MAX_ROOFS)
                    continue;
                memset(&roofs[k], 0, sizeof roofs[k]);
                snprintf(roofs[k].name, sizeof roofs[k].name, "%s", r->ceiling);
                roofs[k].bandwidth = bw;
                nr++;
            }
            roofs[k].value = fmax(roofs[k].value, r->ceiling_value);
        }
        if (!nr || !npts)
            continue;
        char stem[160];
        char rk[24] = "";
        if (P->devs[d].rank >= 0) /* each rank of a merged run its own chart */
            snprintf(rk, sizeof rk, "-rank%d", P->devs[d].rank);
        snprintf(stem, sizeof stem, "roofline-%s%s%s%s", P->devs[d].id, P->many_hosts ? "-" : "",
                 P->many_hosts ? P->devs[d].host : "", rk);
        struct ab_figure *fig = fig_new_figure(P, stem);
        if (!fig)
            return ab_fail(err, AB_ENOMEM, "out of memory");
        struct ab_plot_chart *ch = &fig->chart;
        ch->kind = AB_PLOT_ROOFLINE;
        ch->xscale = ch->yscale = AB_SCALE_LOG10;
        snprintf(ch->title, sizeof ch->title, "Roofline \xc2\xb7 %s", P->devs[d].label);
        snprintf(ch->xlabel, sizeof ch->xlabel, "Arithmetic intensity");
        snprintf(ch->xunit, sizeof ch->xunit, "FLOP/B");
        snprintf(ch->ylabel, sizeof ch->ylabel, "Performance");
        snprintf(ch->yunit, sizeof ch->yunit, "FLOP/s");
        memcpy(ch->roofs, roofs, (size_t)nr * sizeof roofs[0]);
        ch->n_roofs = nr;
        fig_note_for(P, NULL, ch->note, sizeof ch->note);
        /* series: workload and dtype; just the workload when that makes too many */
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < P->n; i++) {
                const struct ab_result *r = P->rows[i].r;
                if (P->rows[i].dev != d || !(r->flops > 0 && r->bytes > 0 && r->flop_per_s > 0))
                    continue;
                char lab[128];
                const char *dt = fig_row_param(&P->rows[i], "dtype");
                const char *kind = fig_row_param(&P->rows[i], "kind");
                snprintf(lab, sizeof lab, "%s", r->workload);
                if (pass == 0 && kind) {
                    size_t l = strlen(lab);
                    snprintf(lab + l, sizeof lab - l, " %s", kind);
                }
                if (pass == 0 && dt) {
                    size_t l = strlen(lab);
                    snprintf(lab + l, sizeof lab - l, " %s", dt);
                }
                int s = fig_series_get(ch, lab, npts);
                if (s < 0)
                    return ab_fail(err, AB_ENOMEM, "out of memory");
                struct ab_plot_series *se = &ch->series[s];
                se->x[se->n] = r->flops / r->bytes;
                se->y[se->n] = r->flop_per_s;
                fig_rate_of(r, r->flop_per_s, &se->ylo[se->n], &se->yhi[se->n]);
                se->n++;
            }
            if (ch->n_series <= 10 || pass == 1)
                break;
            struct ab_plot_roof keep[AB_PLOT_MAX_ROOFS];
            memcpy(keep, ch->roofs, sizeof keep);
            fig_free_chart(ch);
            ch->kind = AB_PLOT_ROOFLINE;
            ch->xscale = ch->yscale = AB_SCALE_LOG10;
            snprintf(ch->title, sizeof ch->title, "Roofline \xc2\xb7 %s", P->devs[d].label);
            snprintf(ch->xlabel, sizeof ch->xlabel, "Arithmetic intensity");
            snprintf(ch->xunit, sizeof ch->xunit, "FLOP/B");
            snprintf(ch->ylabel, sizeof ch->ylabel, "Performance");
            snprintf(ch->yunit, sizeof ch->yunit, "FLOP/s");
            memcpy(ch->roofs, keep, sizeof keep);
            ch->n_roofs = nr;
            fig_note_for(P, NULL, ch->note, sizeof ch->note);
        }
        made++;
    }
    if (!made && explicit_ask) {
        /* name the workloads that measure ceilings, as their descriptors say */
        char prov[128] = "";
        for (const struct ab_workload *const *w = ab_workloads(); *w; w++)
            if ((*w)->provides_ceilings) {
                size_t l = strlen(prov);
                snprintf(prov + l, sizeof prov - l, "%s%s", l ? " or " : "", (*w)->name);
            }
        return ab_fail(err, AB_EINVAL,
                       "no roofline to draw: it needs a device ceiling (run the %s workload) "
                       "and cases whose FLOPs and bytes are both known",
                       prov[0] ? prov : "ceilings-measuring");
    }
    return AB_OK;
}
