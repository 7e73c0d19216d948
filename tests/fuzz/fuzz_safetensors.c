/* fuzz_safetensors.c — the safetensors reader (gpt2_safetensors_parse) on arbitrary bytes, then
 * every tensor it accepts looked up by name and read out as fp32 at its own shape, plain and
 * transposed. The input buffer is exactly the file, so a read past a checked range is caught. */
#include "accelbench.h"
#include "fuzz_util.h"
#include "gpt2/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    if (gpt2_safetensors_parse(data, size, &f, &err) != AB_OK) {
        if (!err.msg[0])
            __builtin_trap(); /* every failure carries a message */
        return 0;
    }
    for (int i = 0; i < f.n_tensors; i++) {
        const struct gpt2_st_tensor *t = &f.tensors[i];
        if (t->begin > t->end || t->end > f.data_len || f.data + f.data_len > data + size)
            __builtin_trap(); /* a range the parser let through must lie inside the file */
        if (gpt2_safetensors_find(&f, t->name) == NULL)
            __builtin_trap();
        if (t->ndim < 1 || t->ndim > 2)
            continue;
        int64_t rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 0;
        if (rows <= 0 || cols < 0 || rows > (1 << 16) || cols > (1 << 16) ||
            rows * (cols ? cols : 1) > (1 << 20))
            continue;
        float *dst = malloc((size_t)(rows * (cols ? cols : 1)) * sizeof *dst);
        if (!dst)
            continue;
        /* The first tensor of a name wins a look-up: only that one is read at its own shape. */
        if (gpt2_safetensors_find(&f, t->name) == t) {
            (void)gpt2_safetensors_get_f32(&f, t->name, rows, cols, false, dst, &err);
            (void)gpt2_safetensors_get_f32(&f, t->name, rows, cols, true, dst, &err);
        }
        free(dst);
    }
    gpt2_safetensors_free(&f);
    return 0;
}
