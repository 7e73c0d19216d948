/* fuzz_axes.c — the sweep parser (ab_axis_parse) for each kind of axis, and the params text
 * of the CSV (ab_params_parse, then format and parse again: a round trip must hold).
 * The first byte picks the axis; the rest is the sweep text. */
#include "accelbench.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

static const struct ab_axis axes[] = {
    { .name = "n", .type = AB_AXIS_INT, .min = 1, .max = 1ll << 40 },
    { .name = "k", .type = AB_AXIS_INT },
    { .name = "sparsity", .type = AB_AXIS_REAL, .min = 0, .max = 1 },
    { .name = "scale", .type = AB_AXIS_REAL },
    { .name = "dtype", .type = AB_AXIS_STR, .choices = "fp32,bf16,fp16,fp8_e4m3,fp8_e5m2" },
    { .name = "mode", .type = AB_AXIS_STR },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    static struct ab_values vals;
    struct ab_error err = { { 0 } };
    const struct ab_axis *ax = &axes[data[0] % (sizeof axes / sizeof axes[0])];
    if (ab_axis_parse(ax, text, &vals, &err) == AB_OK) {
        if (vals.n < 1 || vals.n > AB_MAX_VALUES)
            __builtin_trap();
        for (int i = 0; i < vals.n; i++)
            if (!memchr(vals.v[i].str, '\0', sizeof vals.v[i].str))
                __builtin_trap();
    }
    struct ab_params ps, back;
    if (ab_params_parse(text, &ps, &err) == AB_OK) {
        char canon[1024];
        ab_params_format(&ps, canon, sizeof canon);
        if (strlen(canon) < sizeof canon - 1 && ab_params_parse(canon, &back, &err) != AB_OK)
            __builtin_trap(); /* what we format we must read back */
    }
    free(text);
    return 0;
}
