/* matmul.c — ops_matmul on the CPU through a oneDNN matmul primitive: out = inp . weight^T with
 * bias, GELU (tanh) and a residual add fused as post-ops, fp32 accumulation. The weight is
 * reordered once into the layout the primitive asked for (format "any"), so a run is one
 * primitive execution: no packing, no allocation. */
#include "ops.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#define DNNL_TRY(call, err)                                                                        \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success)                                                                    \
            return ab_fail((err), s_ == dnnl_out_of_memory ? AB_ENOMEM                             \
                                  : s_ == dnnl_unimplemented ? AB_EUNSUPPORTED                     \
                                                             : AB_EFAIL,                           \
                           "%s: oneDNN status %d (%s:%d)", #call, (int)s_, __FILE__, __LINE__);   \
    } while (0)

struct ops_matmul {
    int M, N, K;
    enum ops_dtype dt;
    unsigned flags;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, wei_user_md, bias_md, dst_md, res_md;
    dnnl_memory_t src, wei, bias, dst, res;
    void *wei_buf;  /* packed weight, owned */
    bool have_weight;
    char impl[64];
};

static dnnl_data_type_t dnnl_type(enum ops_dtype dt) { return dt == OPS_BF16 ? dnnl_bf16 : dnnl_f32; }

static ab_status mm_build(struct ops_matmul *mm, struct ab_error *err)
{
    dnnl_data_type_t t = dnnl_type(mm->dt);
    dnnl_dims_t sd = {mm->M, mm->K}, wd = {mm->K, mm->N}, dd = {mm->M, mm->N}, bd = {1, mm->N};
    dnnl_dims_t w_strides = {1, mm->K}; /* weight (N,K) row-major seen as (K,N) */
    dnnl_memory_desc_t wei_any;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&mm->src_md, 2, sd, t, dnnl_ab), err);
    DNNL_TRY(dnnl_memory_desc_init_by_strides(&mm->wei_user_md, 2, wd, t, w_strides), err);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei_any, 2, wd, t, dnnl_format_tag_any), err);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&mm->bias_md, 2, bd, dnnl_f32, dnnl_ab), err);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&mm->dst_md, 2, dd, t, dnnl_ab), err);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&mm->res_md, 2, dd, t, dnnl_ab), err);
    DNNL_TRY(dnnl_engine_create(&mm->eng, dnnl_cpu, 0), err);
    DNNL_TRY(dnnl_stream_create(&mm->strm, mm->eng, dnnl_stream_default_flags), err);

    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &mm->src_md, &wei_any, (mm->flags & OPS_MM_BIAS) ? &mm->bias_md : NULL,
                                   &mm->dst_md), err);
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), err);
    dnnl_post_ops_t po;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && (mm->flags & OPS_MM_GELU))
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_tanh, 0.0f, 0.0f);
    if (s == dnnl_success && (mm->flags & OPS_MM_RESIDUAL))
        s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &mm->res_md);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &md, attr, mm->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    DNNL_TRY(s, err);
    const char *info = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success && info)
        snprintf(mm->impl, sizeof mm->impl, "%s", info);
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t wei_md = *wmd;
    s = dnnl_primitive_create(&mm->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    DNNL_TRY(s, err);

    size_t wbytes = dnnl_memory_desc_get_size(&wei_md);
    mm->wei_buf = ab_alloc(wbytes);
    if (!mm->wei_buf)
        return ab_fail(err, AB_ENOMEM, "matmul: cannot allocate %zu bytes of packed weight", wbytes);
    /* Data handles are set per run; DNNL_MEMORY_NONE makes no buffer of oneDNN's own. */
    DNNL_TRY(dnnl_memory_create(&mm->wei, &wei_md, mm->eng, mm->wei_buf), err);
    DNNL_TRY(dnnl_memory_create(&mm->src, &mm->src_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->dst, &mm->dst_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->bias, &mm->bias_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->res, &mm->res_md, mm->eng, DNNL_MEMORY_NONE), err);
    return AB_OK;
}

ab_status ops_matmul_create(struct ops_matmul **out, int M, int N, int K, enum ops_dtype dt,
                            unsigned flags, struct ab_error *err)
{
    *out = NULL;
    if (M <= 0 || N <= 0 || K <= 0)
        return ab_fail(err, AB_EINVAL, "matmul: bad shape M=%d N=%d K=%d", M, N, K);
    if (dt == OPS_F16)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: fp16 is CUDA only");
    struct ops_matmul *mm = calloc(1, sizeof *mm);
    if (!mm)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *mm = (struct ops_matmul){.M = M, .N = N, .K = K, .dt = dt, .flags = flags};
    ab_status st = mm_build(mm, err);
    if (st) {
        ops_matmul_destroy(mm);
        return ab_fail_prefix(err, st, "matmul %dx%dx%d %s", M, N, K, ops_dtype_name(dt));
    }
    *out = mm;
    return AB_OK;
}

ab_status ops_matmul_set_weight(struct ops_matmul *mm, const void *weight, struct ab_error *err)
{
    dnnl_memory_t user;
    DNNL_TRY(dnnl_memory_create(&user, &mm->wei_user_md, mm->eng, (void *)weight), err);
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *wmd;
    dnnl_status_t s = dnnl_memory_get_memory_desc(mm->wei, &wmd);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, &mm->wei_user_md, mm->eng, wmd, mm->eng, NULL);
    dnnl_primitive_t r = NULL;
    if (s == dnnl_success) {
        s = dnnl_primitive_create(&r, rpd);
        dnnl_primitive_desc_destroy(rpd);
    }
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, mm->wei}};
        s = dnnl_primitive_execute(r, mm->strm, 2, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(mm->strm);
    }
    if (r)
        dnnl_primitive_destroy(r);
    dnnl_memory_destroy(user);
    DNNL_TRY(s, err);
    mm->have_weight = true;
    return AB_OK;
}

ab_status ops_matmul_run(struct ops_matmul *mm, void *out, const void *inp, const float *bias,
                         const void *res, struct ab_error *err)
{
    if (!mm->have_weight)
        return ab_fail(err, AB_EINVAL, "matmul: run before set_weight");
    if (((mm->flags & OPS_MM_BIAS) && !bias) || ((mm->flags & OPS_MM_RESIDUAL) && !res))
        return ab_fail(err, AB_EINVAL, "matmul: bias or residual missing for the plan's flags");
    DNNL_TRY(dnnl_memory_set_data_handle(mm->src, (void *)inp), err);
    DNNL_TRY(dnnl_memory_set_data_handle(mm->dst, out), err);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, mm->src}, {DNNL_ARG_WEIGHTS, mm->wei}, {DNNL_ARG_DST, mm->dst}};
    int n = 3;
    if (mm->flags & OPS_MM_BIAS) {
        DNNL_TRY(dnnl_memory_set_data_handle(mm->bias, (void *)bias), err);
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mm->bias};
    }
    if (mm->flags & OPS_MM_RESIDUAL) {
        DNNL_TRY(dnnl_memory_set_data_handle(mm->res, (void *)res), err);
        int idx = (mm->flags & OPS_MM_GELU) ? 1 : 0; /* index of the binary post-op */
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx) | DNNL_ARG_SRC_1, mm->res};
    }
    DNNL_TRY(dnnl_primitive_execute(mm->prim, mm->strm, n, args), err);
    DNNL_TRY(dnnl_stream_wait(mm->strm), err);
    return AB_OK;
}

const char *ops_matmul_impl(const struct ops_matmul *mm) { return mm->impl; }

void ops_matmul_destroy(struct ops_matmul *mm)
{
    if (!mm)
        return;
    dnnl_memory_t mems[] = {mm->src, mm->wei, mm->bias, mm->dst, mm->res};
    for (int i = 0; i < 5; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    if (mm->prim)
        dnnl_primitive_destroy(mm->prim);
    if (mm->strm)
        dnnl_stream_destroy(mm->strm);
    if (mm->eng)
        dnnl_engine_destroy(mm->eng);
    ab_free(mm->wei_buf);
    free(mm);
}
