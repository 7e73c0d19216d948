/* safetensors.h — a reader of the safetensors format (8-byte little-endian header length, a
 * JSON header naming each tensor's dtype, shape and byte range, then the raw data) working on
 * a memory buffer, so the same code serves files and fuzz targets. It never trusts the file:
 * every length, offset and shape is checked before a byte of data is read. */
#ifndef GPT2_SAFETENSORS_H
#define GPT2_SAFETENSORS_H

#include "accelbench.h"

#define GPT2_ST_MAX_DIMS 4
struct gpt2_st_tensor {
    char name[96];
    enum ab_dtype dtype; /* AB_DTYPE_FP32, _BF16 or _FP16 (the file's F32, BF16, F16); AB_DTYPE_COUNT
                            for a type the loader does not read (BOOL, I64 masks...) */
    char dtype_word[8];  /* as the file spells it */
    int ndim;
    int64_t shape[GPT2_ST_MAX_DIMS];
    size_t begin, end; /* byte range within the data section */
};

/* A parsed file: views into the caller's buffer (which must outlive it) plus a tensor table. */
struct gpt2_st_file {
    const uint8_t *data; /* start of the data section */
    size_t data_len;
    struct gpt2_st_tensor *tensors; /* owned; free with gpt2_safetensors_free */
    int n_tensors;
};

/* Parse len bytes at data. Errors (AB_EINVAL) say what is wrong and name the tensor. */
ab_status gpt2_safetensors_parse(const void *data, size_t len, struct gpt2_st_file *out,
                                 struct ab_error *err);
void gpt2_safetensors_free(struct gpt2_st_file *f);
/* The tensor of that name, or NULL. */
const struct gpt2_st_tensor *gpt2_safetensors_find(const struct gpt2_st_file *f, const char *name);
/* Copy tensor `name` into dst as fp32, checking it has exactly the shape (rows, cols) (cols 0
 * for a vector). With transpose, the stored (rows, cols) matrix lands in dst as (cols, rows):
 * Hugging Face's Conv1D stores weights input-major, (in, out), and the model wants (out, in). */
ab_status gpt2_safetensors_get_f32(const struct gpt2_st_file *f, const char *name, int64_t rows, int64_t cols,
                                   bool transpose, float *dst, struct ab_error *err);

#endif /* GPT2_SAFETENSORS_H */
