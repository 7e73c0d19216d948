/* cpu_dispatch.c — attention_memory's CPU implementation: forwards to the build of cpu.c this
 * CPU can run: x86-64-v4 (AVX-512) where it may, else x86-64-v3 (AVX2 + FMA), else any x86-64. The
 * kernels are plain C loops left to the compiler's vectorizer, so the target decides whether
 * they run 4 or 16 floats a step. Rows say which build ran (metric cpu_kernels). */
#include "attention_memory.h"

static const struct ab_impl *cpu_variant(const char **name)
{
    bool v4 = attention_memory_cpu_impl_v4.setup && attention_memory_cpu_v4_ok();
    bool v3 = !v4 && attention_memory_cpu_impl_v3.setup && attention_memory_cpu_v3_ok();
    if (name)
        *name = v4 ? "x86-64-v4" : v3 ? "x86-64-v3" : "x86-64";
    return v4   ? &attention_memory_cpu_impl_v4
           : v3 ? &attention_memory_cpu_impl_v3
                : &attention_memory_cpu_impl_base;
}

static ab_status dispatch_setup(struct ab_case *c, struct ab_error *err)
{
    const char *name;
    const struct ab_impl *impl = cpu_variant(&name);
    ab_case_metric_text(c, "cpu_kernels", "%s", name);
    return impl->setup(c, err);
}

static ab_status dispatch_verify(struct ab_case *c, struct ab_error *err)
{
    return cpu_variant(NULL)->verify(c, err);
}

static ab_status dispatch_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return cpu_variant(NULL)->launch(c, rep, err);
}

static void dispatch_teardown(struct ab_case *c)
{
    cpu_variant(NULL)->teardown(c);
}

const struct ab_impl attention_memory_cpu_impl = { .setup = dispatch_setup,
                                                   .verify = dispatch_verify,
                                                   .launch = dispatch_launch,
                                                   .teardown = dispatch_teardown };
