/* offload.c — the arithmetic of `accelbench offload`: a model shape, a batch and a context put
 * against a run's rows. Per layer of one decode step (batch B, Lamina's split: the dense device
 * computes the projections and the MLP, the attention device holds the KV cache):
 *   out  = B (NH + 2 KVH) hd e   bytes: q and the new k, v rows, dense -> attention device
 *   back = B NH hd e             bytes: the attention output, back
 *   transfer = (latency + out / bw) + (latency + back / bw), from interconnect rows
 *   attention, dense: the nearest measured rows, scaled to the model's layer by their work model.
 * The fraction of the step the transfer takes is transfer / (dense + attention + transfer): the
 * layer run in turn, nothing overlapped (Lamina's pipelining would hide part of it). */
#include "offload.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int layers, hidden, heads;
} gpt2_sizes[] = {
    { "gpt2-124m", 12, 768, 12 },
    { "gpt2-355m", 24, 1024, 16 },
    { "gpt2-774m", 36, 1280, 20 },
    { "gpt2-1558m", 48, 1600, 25 },
};
#define N_GPT2 (int)(sizeof gpt2_sizes / sizeof gpt2_sizes[0])

#define SETTINGS                                                                                             \
    "model, hidden, heads, kv_heads, head_dim, layers, ffn, mlp, dtype, batch, context, link, dense"

static ab_status parse_count(const char *name, const char *v, int *out, struct ab_error *err)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < 1 || x > (1L << 24))
        return ab_fail(err, AB_EINVAL, "-a %s=%s: expected a whole number from 1 to %ld", name, v, 1L << 24);
    *out = (int)x;
    return AB_OK;
}

/* Apply one "name=value"; model= is applied by the caller first. */
static ab_status apply(struct offload_model *m, const char *name, const char *v, struct ab_error *err)
{
    struct {
        const char *name;
        int *slot;
    } counts[] = { { "hidden", &m->hidden },     { "heads", &m->heads },    { "kv_heads", &m->kv_heads },
                   { "head_dim", &m->head_dim }, { "layers", &m->layers },  { "ffn", &m->ffn },
                   { "batch", &m->batch },       { "context", &m->context } };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (!strcmp(name, counts[i].name))
            return parse_count(name, v, counts[i].slot, err);
    if (!strcmp(name, "mlp")) {
        if (strcmp(v, "gelu") && strcmp(v, "swiglu"))
            return ab_fail(err, AB_EINVAL, "-a mlp=%s: valid values are gelu (two matrices), swiglu (three)",
                           v);
        m->swiglu = !strcmp(v, "swiglu");
        return AB_OK;
    }
    if (!strcmp(name, "dtype")) {
        if (!ab_dtype_parse(v, &m->dtype))
            return ab_fail(err, AB_EINVAL,
                           "-a dtype=%s: valid values are fp32, bf16, fp16, fp8_e4m3, fp8_e5m2", v);
        return AB_OK;
    }
    if (!strcmp(name, "link")) {
        if (strcmp(v, "net") && strcmp(v, "pcie") && strcmp(v, "p2p"))
            return ab_fail(
                err, AB_EINVAL,
                "-a link=%s: valid values are net (MPI ping-pong), pcie (pinned d2h out, h2d back), "
                "p2p",
                v);
        snprintf(m->link, sizeof m->link, "%s", v);
        return AB_OK;
    }
    if (!strcmp(name, "dense")) {
        if (strcmp(v, "transformer_block") && strcmp(v, "gpt2"))
            return ab_fail(err, AB_EINVAL, "-a dense=%s: valid values are transformer_block, gpt2", v);
        snprintf(m->dense, sizeof m->dense, "%s", v);
        return AB_OK;
    }
    return ab_fail(err, AB_EINVAL, "-a %s: unknown setting (valid: %s)", name, SETTINGS);
}

/* Call fn for each "name=value" of the settings, model= ones only or all others. */
static ab_status each_setting(const char *const *settings, int n, bool models, struct offload_model *m,
                              struct ab_error *err)
{
    for (int i = 0; i < n; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", settings[i]);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq || eq == tok || !eq[1])
                return ab_fail(err, AB_EINVAL, "-a %s: expected NAME=VALUE (names: %s)", tok, SETTINGS);
            *eq = '\0';
            const char *v = eq + 1;
            bool is_model = !strcmp(tok, "model");
            if (is_model != models)
                continue;
            if (!is_model) {
                ab_status st = apply(m, tok, v, err);
                if (st)
                    return st;
                continue;
            }
            int k = 0;
            while (k < N_GPT2 && strcasecmp(v, gpt2_sizes[k].name) != 0)
                k++;
            if (k == N_GPT2)
                return ab_fail(
                    err, AB_EINVAL,
                    "-a model=%s: unknown model (valid: gpt2-124m, gpt2-355m, gpt2-774m, gpt2-1558m; "
                    "other shapes by hidden, heads, kv_heads, layers, head_dim)",
                    v);
            snprintf(m->name, sizeof m->name, "%s", gpt2_sizes[k].name);
            m->layers = gpt2_sizes[k].layers;
            m->hidden = gpt2_sizes[k].hidden;
            m->heads = m->kv_heads = gpt2_sizes[k].heads;
            m->head_dim = 64;
            m->ffn = 4 * m->hidden;
            m->swiglu = false;
        }
    }
    return AB_OK;
}

ab_status offload_model_parse(const char *const *settings, int n, struct offload_model *m,
                              struct ab_error *err)
{
    memset(m, 0, sizeof *m);
    m->dtype = AB_DTYPE_BF16;
    m->batch = 8;
    m->context = 4096;
    ab_status st = each_setting(settings, n, true, m, err);
    if (!st)
        st = each_setting(settings, n, false, m, err);
    if (st)
        return st;
    if (!m->hidden || !m->heads || !m->layers)
        return ab_fail(err, AB_EINVAL,
                       "no model: give -a model=gpt2-1558m (or gpt2-124m, gpt2-355m, gpt2-774m), or a shape "
                       "-a hidden=H,heads=NH,layers=L[,kv_heads=KVH,head_dim=D,ffn=F,mlp=swiglu]");
    if (!m->kv_heads)
        m->kv_heads = m->heads;
    if (m->heads % m->kv_heads)
        return ab_fail(err, AB_EINVAL, "-a kv_heads=%d: heads=%d must be a multiple of it", m->kv_heads,
                       m->heads);
    if (!m->head_dim) {
        if (m->hidden % m->heads)
            return ab_fail(err, AB_EINVAL, "hidden=%d does not split into heads=%d: give -a head_dim",
                           m->hidden, m->heads);
        m->head_dim = m->hidden / m->heads;
    }
    if (!m->ffn)
        m->ffn = 4 * m->hidden;
    return AB_OK;
}

void offload_layer_bytes(const struct offload_model *m, double *out_bytes, double *back_bytes)
{
    double e = (double)ab_dtype_size(m->dtype), b = m->batch, hd = m->head_dim;
    *out_bytes = b * (m->heads + 2.0 * m->kv_heads) * hd * e;
    *back_bytes = b * m->heads * hd * e;
}

/* The model's dense FLOPs per layer for `tokens` tokens: QKV, output projection and MLP. */
static double dense_flops(const struct offload_model *m, double tokens)
{
    double c = m->hidden, hd = m->head_dim, qkv = c * (m->heads + 2.0 * m->kv_heads) * hd,
           o = m->heads * hd * c, mlp = (m->swiglu ? 3.0 : 2.0) * c * m->ffn;
    return 2 * tokens * (qkv + o + mlp);
}

/* attention_memory's decode bytes (its work model): K and V read, q read, fp32 output written. */
static double attention_bytes(double b, double kv_heads, double group, double n, double d, double e)
{
    return 2 * b * kv_heads * n * d * e + b * kv_heads * group * d * (e + 4);
}

static double logdist(double a, double b)
{
    return a > 0 && b > 0 ? fabs(log(a / b)) : INFINITY;
}

static bool row_params(const struct ab_result *r, const char *workload, struct ab_params *ps)
{
    struct ab_error e;
    return r->status == AB_OK && !strcmp(r->workload, workload) && r->time_s.median > 0 &&
           ab_params_parse(r->params, ps, &e) == AB_OK;
}

static void add(struct offload_answer *a, const char *name, double v, const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(struct offload_answer *a, const char *name, double v, const char *unit, const char *fmt, ...)
{
    if (a->n >= OFFLOAD_MAX_ITEMS)
        return;
    struct offload_item *it = &a->items[a->n++];
    it->name = name;
    it->value = v;
    it->unit = unit;
    va_list ap;
    va_start(ap, fmt);
    char text[sizeof it->source];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bool derived = isnan(v) && strncmp(text, "missing", 7) != 0;
    snprintf(it->source, sizeof it->source, "%s%s", derived ? "missing (a figure above is): " : "", text);
    if (isnan(v))
        a->n_missing++;
}

/* ------------------------------------------------------------------ the link */

struct link_end {
    const char *op, *ceiling;
    const struct ab_result *near, *small; /* the row nearest the message size, the smallest size */
    double near_bytes, small_bytes;
    double ceiling_value; /* the best ceiling_value rows carry, 0 if none */
};

static double one_way_s(const struct ab_result *r)
{
    /* a ping-pong repetition is one round trip */
    return strncmp(r->params, "op=pingpong", 11) == 0 ? r->time_s.median / 2 : r->time_s.median;
}

static void find_link(const struct ab_result *const *rows, int n, const char *op, const char *ceiling,
                      double msg_bytes, struct link_end *l)
{
    memset(l, 0, sizeof *l);
    l->op = op;
    l->ceiling = ceiling;
    for (int i = 0; i < n; i++) {
        const struct ab_result *r = rows[i];
        if (r->status == AB_OK && !strcmp(r->workload, "interconnect") && !strcmp(r->ceiling, ceiling) &&
            r->ceiling_value > l->ceiling_value)
            l->ceiling_value = r->ceiling_value;
        struct ab_params ps;
        if (!row_params(r, "interconnect", &ps) || strcmp(ab_param_str(&ps, "op", ""), op) != 0)
            continue;
        double b = (double)ab_param_int(&ps, "bytes", 0);
        if (!(b > 0) || !(r->byte_per_s > 0))
            continue;
        if (!l->small || b < l->small_bytes) {
            l->small = r;
            l->small_bytes = b;
        }
        double dn = logdist(b, msg_bytes), d0 = l->near ? logdist(l->near_bytes, msg_bytes) : INFINITY;
        if (!l->near || dn < d0 || (dn == d0 && b > l->near_bytes)) {
            l->near = r;
            l->near_bytes = b;
        }
    }
}

static void link_items(struct offload_answer *a, const struct link_end *l, const char *lat_name,
                       const char *bw_name, double msg, double *lat, double *bw)
{
    char ceil[96] = "";
    if (l->ceiling_value > 0)
        snprintf(ceil, sizeof ceil, "; the %s ceiling is %.4g B/s", l->ceiling, l->ceiling_value);
    if (l->small) {
        *lat = one_way_s(l->small);
        add(a, lat_name, *lat, "s", "interconnect op=%s bytes=%.0f on %s: one-way time (the smallest size%s)",
            l->op, l->small_bytes, l->small->device,
            !strcmp(l->op, "pingpong") ? ", half the round trip" : "");
    } else {
        *lat = NAN;
        add(a, lat_name, NAN, "s",
            "missing: no ok interconnect row of op=%s (run -w interconnect -a op=%s%s)", l->op, l->op,
            !strcmp(l->op, "pingpong") ? " under mpirun -n 2" : " on a GPU");
    }
    if (l->near) {
        *bw = l->near->byte_per_s;
        add(a, bw_name, *bw, "B/s",
            "interconnect op=%s bytes=%.0f on %s: the size nearest the %.0f B message%s", l->op,
            l->near_bytes, l->near->device, msg, ceil);
    } else if (l->ceiling_value > 0) {
        *bw = l->ceiling_value;
        add(a, bw_name, *bw, "B/s", "the %s ceiling (no row of op=%s to match the size)", l->ceiling, l->op);
    } else {
        *bw = NAN;
        add(a, bw_name, NAN, "B/s", "missing: no ok interconnect row of op=%s", l->op);
    }
}

static const struct {
    const char *link, *out_op, *out_ceiling, *back_op, *back_ceiling;
} links[] = {
    { "net", "pingpong", "net_bw", "pingpong", "net_bw" },
    { "p2p", "p2p", "p2p_bw", "p2p", "p2p_bw" },
    /* the dense device a GPU, the attention device its host: q, k, v out, the output back in */
    { "pcie", "d2h_pinned", "d2h_bw", "h2d_pinned", "h2d_bw" },
};

/* ------------------------------------------------------------------ attention and dense */

static double attention_layer(const struct offload_model *m, const struct ab_result *const *rows, int n,
                              struct offload_answer *a)
{
    double group = (double)m->heads / m->kv_heads, e = (double)ab_dtype_size(m->dtype);
    double want = attention_bytes(m->batch, m->kv_heads, group, m->context, m->head_dim, e);
    const struct ab_result *best = NULL;
    double best_d = INFINITY;
    struct ab_params bp = { 0 };
    for (int i = 0; i < n; i++) {
        struct ab_params ps;
        if (!row_params(rows[i], "attention_memory", &ps) || !ab_param_is(&ps, "mode", "decode") ||
            !(rows[i]->bytes > 0))
            continue;
        double d = logdist((double)ab_param_int(&ps, "batch", 1), m->batch) +
                   logdist((double)ab_param_int(&ps, "n", 1), m->context) +
                   logdist((double)ab_param_int(&ps, "heads", 1), m->kv_heads) +
                   logdist((double)ab_param_int(&ps, "group", 1), group) +
                   (ab_param_is(&ps, "dtype", ab_dtype_name(m->dtype)) ? 0 : 100);
        if (d < best_d) {
            best = rows[i];
            best_d = d;
            bp = ps;
        }
    }
    if (!best) {
        add(a, "attention_per_layer_s", NAN, "s",
            "missing: no ok attention_memory row of mode=decode (run -w attention_memory -a mode=decode)");
        return NAN;
    }
    double k = want / best->bytes, t = best->time_s.median * k;
    add(a, "attention_per_layer_s", t, "s",
        "attention_memory decode batch=%lld n=%lld heads=%lld group=%lld d=%lld %s on %s: %.4g s x %.4g (the "
        "model layer's decode bytes %.4g B / the row's %.4g B: at the row's bandwidth)",
        (long long)ab_param_int(&bp, "batch", 1), (long long)ab_param_int(&bp, "n", 1),
        (long long)ab_param_int(&bp, "heads", 1), (long long)ab_param_int(&bp, "group", 1),
        (long long)ab_param_int(&bp, "d", 0), ab_param_str(&bp, "dtype", "?"), best->device,
        best->time_s.median, k, want, best->bytes);
    return t;
}

static double dense_tb(const struct offload_model *m, const struct ab_result *const *rows, int n,
                       struct offload_answer *a, bool quiet)
{
    const struct ab_result *best = NULL;
    double best_d = INFINITY, best_flops = 0;
    struct ab_params bp = { 0 };
    for (int i = 0; i < n; i++) {
        struct ab_params ps;
        if (!row_params(rows[i], "transformer_block", &ps))
            continue;
        double c = (double)ab_param_int(&ps, "hidden", 768),
               tokens = (double)ab_param_int(&ps, "batch", 1) * (double)ab_param_int(&ps, "seq", 128);
        double d = logdist(tokens, m->batch) + logdist(c, m->hidden) +
                   (ab_param_is(&ps, "dtype", ab_dtype_name(m->dtype)) ? 0 : 100);
        if (d < best_d) {
            best = rows[i];
            best_d = d;
            bp = ps;
            best_flops = 24 * tokens * c * c; /* transformer_block's projections and MLP */
        }
    }
    if (!best) {
        if (!quiet)
            add(a, "dense_per_layer_s", NAN, "s",
                "missing: no ok transformer_block row (run -w transformer_block -a seq=1 -a batch=B)");
        return NAN;
    }
    double k = dense_flops(m, m->batch) / best_flops, t = best->time_s.median * k;
    add(a, "dense_per_layer_s", t, "s",
        "transformer_block hidden=%lld seq=%lld batch=%lld %s on %s: %.4g s x %.4g (the model's dense FLOPs "
        "for %d tokens / the row's 24 B T C^2; its time includes its own attention over seq tokens)",
        (long long)ab_param_int(&bp, "hidden", 0), (long long)ab_param_int(&bp, "seq", 0),
        (long long)ab_param_int(&bp, "batch", 0), ab_param_str(&bp, "dtype", "?"), best->device,
        best->time_s.median, k, m->batch);
    return t;
}

static double dense_gpt2(const struct offload_model *m, const struct ab_result *const *rows, int n,
                         struct offload_answer *a)
{
    const struct ab_result *best = NULL;
    double best_d = INFINITY;
    struct ab_params bp = { 0 };
    for (int i = 0; i < n; i++) {
        struct ab_params ps;
        if (!row_params(rows[i], "gpt2", &ps) || !ab_param_is(&ps, "phase", "decode") ||
            ab_result_metric(rows[i], "n_embd") != m->hidden ||
            ab_result_metric(rows[i], "n_layer") != m->layers)
            continue;
        double d = logdist((double)ab_param_int(&ps, "batch", 1), m->batch) +
                   (ab_param_is(&ps, "dtype", ab_dtype_name(m->dtype)) ? 0 : 100);
        if (d < best_d) {
            best = rows[i];
            best_d = d;
            bp = ps;
        }
    }
    if (!best) {
        add(a, "dense_per_layer_s", NAN, "s",
            "missing: %sno ok gpt2 decode row of a model of hidden=%d layers=%d",
            m->dense[0] ? "" : "no ok transformer_block row, and ", m->hidden, m->layers);
        return NAN;
    }
    double gen = (double)ab_param_int(&bp, "gen", 1), b = (double)ab_param_int(&bp, "batch", 1);
    double k = m->batch / b, t = best->time_s.median / gen / m->layers * k;
    add(a, "dense_per_layer_s", t, "s",
        "gpt2 decode model=%s batch=%lld gen=%lld %s on %s: %.4g s / %lld steps / %d layers x %.4g (batch "
        "%d / the row's); includes its own attention over <= prompt+gen tokens and the LM head's share",
        ab_param_str(&bp, "model", "?"), (long long)b, (long long)gen, ab_param_str(&bp, "dtype", "?"),
        best->device, best->time_s.median, (long long)gen, m->layers, k, m->batch);
    return t;
}

/* ------------------------------------------------------------------ the answer */

ab_status offload_compute(const struct offload_model *m, const struct ab_result *const *rows, int n,
                          struct offload_answer *a, struct ab_error *err)
{
    memset(a, 0, sizeof *a);
    double out, back;
    offload_layer_bytes(m, &out, &back);
    const char *es = ab_dtype_name(m->dtype);
    add(a, "bytes_out_per_layer", out, "B",
        "q and the new k, v rows: batch %d x (heads %d + 2 x kv_heads %d) x "
        "head_dim %d x %zu B (%s)",
        m->batch, m->heads, m->kv_heads, m->head_dim, ab_dtype_size(m->dtype), es);
    add(a, "bytes_back_per_layer", back, "B",
        "attention output: batch %d x heads %d x head_dim %d x %zu B (%s)", m->batch, m->heads, m->head_dim,
        ab_dtype_size(m->dtype), es);
    add(a, "bytes_per_step", (out + back) * m->layers, "B", "(out + back) x %d layers", m->layers);

    int li = -1;
    for (int k = 0; k < (int)(sizeof links / sizeof links[0]); k++) {
        if (m->link[0] && strcmp(m->link, links[k].link) != 0)
            continue;
        struct link_end probe;
        find_link(rows, n, links[k].out_op, links[k].out_ceiling, out, &probe);
        if (m->link[0] || probe.near) {
            li = k;
            break;
        }
    }
    if (li < 0)
        li = 0; /* nothing measured: name net's rows as missing */
    struct link_end lo, lb;
    find_link(rows, n, links[li].out_op, links[li].out_ceiling, out, &lo);
    find_link(rows, n, links[li].back_op, links[li].back_ceiling, back, &lb);
    double lat_o, bw_o, lat_b, bw_b;
    link_items(a, &lo, "link_latency_out_s", "link_bw_out_byte_per_s", out, &lat_o, &bw_o);
    link_items(a, &lb, "link_latency_back_s", "link_bw_back_byte_per_s", back, &lat_b, &bw_b);
    double transfer = lat_o + out / bw_o + lat_b + back / bw_b;
    add(a, "transfer_per_layer_s", transfer, "s",
        "link=%s: (latency + out / bandwidth) + (latency + back / bandwidth), the out and back messages",
        links[li].link);
    double attn = attention_layer(m, rows, n, a);
    double dense = NAN;
    if (strcmp(m->dense, "gpt2") != 0)
        dense = dense_tb(m, rows, n, a, !m->dense[0]);
    if (isnan(dense) && strcmp(m->dense, "transformer_block") != 0)
        dense = dense_gpt2(m, rows, n, a);
    double step = dense + attn + transfer;
    add(a, "step_per_layer_s", step, "s", "dense + attention + transfer, one after the other");
    add(a, "step_s", step * m->layers, "s", "x %d layers (the LM head and embeddings left out)", m->layers);
    add(a, "transfer_fraction_of_step", transfer / step, "", "transfer / (dense + attention + transfer)");
    add(a, "transfer_over_attention", transfer / attn, "",
        "transfer / attention: below 1, a pipeline of two "
        "micro-batches (Lamina's) can hide it behind the attention");
    (void)err;
    return AB_OK;
}
