/* safetensors.c — parse and check a safetensors buffer, convert tensors to fp32.
 * The header is JSON (read with cJSON): {"name": {"dtype": "F32", "shape": [..],
 * "data_offsets": [begin, end]}, ..., "__metadata__": {...}}. Offsets are relative to the end
 * of the header; each tensor's byte count must equal its element count times its dtype size. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GPT2_ST_MAX_HEADER (100u << 20) /* the format's own limit on header size */

/* The file's dtype words. The loader reads F32, BF16 and F16; the others are sized (so the
 * byte ranges are checked all the same) and left alone: exports write BOOL or I64 attention
 * masks (h.N.attn.bias, attn.masked_bias) that GPT-2 recomputes and never needs. */
static bool dtype_parse(const char *s, enum ab_dtype *out, size_t *elem)
{
    static const struct {
        const char *word;
        enum ab_dtype dt;
        size_t size;
    } table[] = {
        { "F32", AB_DTYPE_FP32, 4 },      { "BF16", AB_DTYPE_BF16, 2 },     { "F16", AB_DTYPE_FP16, 2 },
        { "BOOL", AB_DTYPE_COUNT, 1 },    { "U8", AB_DTYPE_COUNT, 1 },      { "I8", AB_DTYPE_COUNT, 1 },
        { "F8_E4M3", AB_DTYPE_COUNT, 1 }, { "F8_E5M2", AB_DTYPE_COUNT, 1 }, { "I16", AB_DTYPE_COUNT, 2 },
        { "U16", AB_DTYPE_COUNT, 2 },     { "I32", AB_DTYPE_COUNT, 4 },     { "U32", AB_DTYPE_COUNT, 4 },
        { "I64", AB_DTYPE_COUNT, 8 },     { "U64", AB_DTYPE_COUNT, 8 },     { "F64", AB_DTYPE_COUNT, 8 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(s, table[i].word) == 0) {
            *out = table[i].dt;
            *elem = table[i].size;
            return true;
        }
    return false;
}

/* A JSON number that is a non-negative integer exactly representable (below 2^53). */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d < 9007199254740992.0) || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

static ab_status parse_tensor(const cJSON *item, size_t data_len, struct gpt2_st_tensor *t,
                              struct ab_error *err)
{
    const char *name = item->string;
    if (strlen(name) >= sizeof t->name)
        return ab_fail(err, AB_EINVAL, "safetensors: tensor name \"%.40s...\" too long", name);
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!cJSON_IsObject(item))
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: entry is not an object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: missing \"dtype\"", name);
    size_t elem;
    if (!dtype_parse(dt->valuestring, &t->dtype, &elem))
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: dtype %.16s unknown", name, dt->valuestring);
    snprintf(t->dtype_word, sizeof t->dtype_word, "%s", dt->valuestring);
    if (!cJSON_IsArray(shape))
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: missing \"shape\" array", name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > GPT2_ST_MAX_DIMS)
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: %d dimensions (at most %d)", name, nd,
                       GPT2_ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t count = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_uint(cJSON_GetArrayItem(shape, i), &d) || d > (1ull << 40))
            return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: shape[%d] is not a valid size", name, i);
        t->shape[i] = (int64_t)d;
        if (d && count > (1ull << 40) / d) /* checked before multiplying: no wrap-around */
            return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: too many elements", name);
        count *= d;
    }
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &b) || !json_uint(cJSON_GetArrayItem(offs, 1), &e))
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: \"data_offsets\" must be [begin, end]", name);
    if (b > e || e > data_len)
        return ab_fail(err, AB_EINVAL,
                       "safetensors: tensor %s: data_offsets [%llu, %llu] past the end of the "
                       "data (%zu bytes): file truncated?",
                       name, (unsigned long long)b, (unsigned long long)e, data_len);
    if (e - b != count * elem)
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: %llu bytes for %llu elements of %s", name,
                       (unsigned long long)(e - b), (unsigned long long)count, dt->valuestring);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    return AB_OK;
}

ab_status gpt2_safetensors_parse(const void *data, size_t len, struct gpt2_st_file *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = data;
    if (len < 8)
        return ab_fail(err, AB_EINVAL, "safetensors: %zu bytes, too short for the header length", len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen < 2 || hlen > GPT2_ST_MAX_HEADER || hlen > len - 8)
        return ab_fail(err, AB_EINVAL, "safetensors: header length %llu invalid for a file of %zu bytes",
                       (unsigned long long)hlen, len);
    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!root)
        return ab_fail(err, AB_EINVAL, "safetensors: header is not valid JSON");
    ab_status st = AB_OK;
    if (!cJSON_IsObject(root)) {
        st = ab_fail(err, AB_EINVAL, "safetensors: header JSON is not an object");
        goto done;
    }
    out->data = p + 8 + hlen;
    out->data_len = len - 8 - (size_t)hlen;
    int n = cJSON_GetArraySize(root);
    out->tensors = calloc(n > 0 ? (size_t)n : 1, sizeof *out->tensors);
    if (!out->tensors) {
        st = ab_fail(err, AB_ENOMEM, "safetensors: cannot allocate %d tensor entries", n);
        goto done;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") == 0)
            continue;
        if ((st = parse_tensor(item, out->data_len, &out->tensors[out->n_tensors], err)))
            goto done;
        out->n_tensors++;
    }
done:
    cJSON_Delete(root);
    if (st)
        gpt2_safetensors_free(out);
    return st;
}

void gpt2_safetensors_free(struct gpt2_st_file *f)
{
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const struct gpt2_st_tensor *gpt2_safetensors_find(const struct gpt2_st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static float elem_f32(const uint8_t *src, enum ab_dtype dt, size_t i)
{
    if (dt == AB_DTYPE_FP32) {
        float f;
        memcpy(&f, src + 4 * i, 4); /* little-endian host assumed, as the format is */
        return f;
    }
    uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
    return dt == AB_DTYPE_FP16 ? ab_fp16_to_f32(h) : ab_bf16_to_f32(h);
}

ab_status gpt2_safetensors_get_f32(const struct gpt2_st_file *f, const char *name, int64_t rows, int64_t cols,
                                   bool transpose, float *dst, struct ab_error *err)
{
    const struct gpt2_st_tensor *t = gpt2_safetensors_find(f, name);
    if (!t)
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s missing", name);
    if (t->dtype == AB_DTYPE_COUNT)
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: dtype %s, the loader reads F32, BF16 and F16",
                       name, t->dtype_word);
    int want_nd = cols ? 2 : 1;
    bool ok = t->ndim == want_nd && t->shape[0] == rows && (!cols || t->shape[1] == cols);
    if (!ok) {
        char got[96] = "[";
        for (int i = 0; i < t->ndim; i++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        }
        strncat(got, "]", sizeof got - strlen(got) - 1);
        if (cols)
            return ab_fail(err, AB_EINVAL, "safetensors: tensor %s has shape %s, expected [%lld, %lld]", name,
                           got, (long long)rows, (long long)cols);
        return ab_fail(err, AB_EINVAL, "safetensors: tensor %s has shape %s, expected [%lld]", name, got,
                       (long long)rows);
    }
    const uint8_t *src = f->data + t->begin;
    size_t r = (size_t)rows, c = cols ? (size_t)cols : 1;
    if (!transpose || !cols) {
        for (size_t i = 0; i < r * c; i++)
            dst[i] = elem_f32(src, t->dtype, i);
    } else {
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                dst[j * r + i] = elem_f32(src, t->dtype, i * c + j);
    }
    for (size_t i = 0; i < r * c; i++)
        if (!isfinite(dst[i]))
            return ab_fail(err, AB_EINVAL, "safetensors: tensor %s: element %zu is not finite", name, i);
    return AB_OK;
}
