/* sparsity.c — operands with an exact share of zeros: fresh nonzero random elements, then
 * round(sparsity x units) units zeroed, a unit being one element, one 64-byte row or one whole
 * tile by pattern. Positions come from a partial Fisher–Yates shuffle, so the count is exact. */
#include "amx_timing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool amx_pattern_parse(const char *name, enum amx_pattern *out)
{
    static const char *const names[] = { "random", "rows", "tiles" };
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum amx_pattern)i;
            return true;
        }
    return false;
}

static void amx_fill_nonzero(uint8_t *buf, size_t n_elems, int elem_bytes, bool bf16, struct ab_rng *rng)
{
    for (size_t i = 0; i < n_elems; i++) {
        if (elem_bytes == 4) {
            float f;
            do
                f = (float)ab_rng_normal(rng);
            while (f == 0);
            memcpy(buf + 4 * i, &f, 4);
        } else if (bf16) {
            uint16_t h;
            do
                h = ab_bf16_from_f32((float)ab_rng_normal(rng));
            while ((h & 0x7fff) == 0);
            memcpy(buf + 2 * i, &h, 2);
        } else {
            int v = (int)(ab_rng_next(rng) % 254) - 127; /* -127..126, then skip zero */
            buf[i] = (uint8_t)(int8_t)(v >= 0 ? v + 1 : v);
        }
    }
}

size_t amx_operands_fill(uint8_t *buf, struct amx_shape shape, bool bf16, enum amx_pattern pattern,
                         double sparsity, struct ab_rng *rng)
{
    size_t row_elems = (size_t)AMX_ROW_BYTES / (size_t)shape.elem_bytes;
    size_t n_rows = (size_t)shape.tiles * (size_t)shape.rows;
    size_t n_elems = n_rows * row_elems;
    amx_fill_nonzero(buf, n_elems, shape.elem_bytes, bf16, rng);

    size_t unit_elems = pattern == AMX_PAT_RANDOM ? 1
                        : pattern == AMX_PAT_ROWS ? row_elems
                                                  : row_elems * (size_t)shape.rows;
    size_t units = n_elems / unit_elems;
    double s = sparsity < 0 ? 0 : sparsity > 1 ? 1 : sparsity;
    size_t k = (size_t)llround(s * (double)units);
    size_t *idx = malloc(units * sizeof *idx);
    if (!idx) { /* cannot happen for our sizes; fall back to the leading units */
        memset(buf, 0, k * unit_elems * (size_t)shape.elem_bytes);
        return k * unit_elems;
    }
    for (size_t i = 0; i < units; i++)
        idx[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(ab_rng_next(rng) % (units - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        memset(buf + idx[i] * unit_elems * (size_t)shape.elem_bytes, 0,
               unit_elems * (size_t)shape.elem_bytes);
    }
    free(idx);
    return k * unit_elems;
}

size_t amx_operands_zeros(const uint8_t *buf, struct amx_shape shape, bool bf16)
{
    size_t n_bytes = (size_t)shape.tiles * (size_t)shape.rows * AMX_ROW_BYTES, z = 0;
    if (shape.elem_bytes == 4) {
        for (size_t i = 0; i < n_bytes; i += 4) {
            float f;
            memcpy(&f, buf + i, 4);
            z += f == 0;
        }
    } else if (bf16) {
        for (size_t i = 0; i < n_bytes; i += 2) {
            uint16_t h;
            memcpy(&h, buf + i, 2);
            z += (h & 0x7fff) == 0;
        }
    } else {
        for (size_t i = 0; i < n_bytes; i++)
            z += buf[i] == 0;
    }
    return z;
}
