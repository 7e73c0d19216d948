/* st_writer.h — writes safetensors buffers for the tests: tensors of fp32 data (or raw bytes
 * of any dtype word, st_add_raw) with given names and shapes, in the layout the format defines (8-byte
 * little-endian header length, JSON header, raw little-endian data). Test code only: no error handling beyond
 * asserts. */
#ifndef AB_ST_WRITER_H
#define AB_ST_WRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_entry {
    char name[96];
    int ndim;
    int64_t shape[4];
    const void *data;
    const char *dtype; /* NULL: "F32" */
    size_t elem;       /* bytes per element; 0: 4 */
};

struct st_writer {
    struct st_entry e[256];
    int n;
};

static inline void st_add(struct st_writer *w, const char *name, const float *data, int64_t d0, int64_t d1)
{
    struct st_entry *e = &w->e[w->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = d1 ? 2 : 1;
    e->shape[0] = d0, e->shape[1] = d1;
    e->data = data;
}

/* A tensor of ndim (0..4) dimensions of dtype `dtype` (a safetensors word: "BOOL", "I64"...),
 * elem bytes per element, taken as raw bytes from data. */
static inline void st_add_raw(struct st_writer *w, const char *name, const char *dtype, size_t elem,
                              const void *data, int ndim, const int64_t *shape)
{
    struct st_entry *e = &w->e[w->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    e->data = data, e->dtype = dtype, e->elem = elem;
}

static inline size_t st_count(const struct st_entry *e)
{
    size_t n = 1;
    for (int i = 0; i < e->ndim; i++)
        n *= (size_t)e->shape[i];
    return n;
}

static inline size_t st_bytes(const struct st_entry *e)
{
    return (e->elem ? e->elem : 4) * st_count(e);
}

/* Serialize to a malloc'ed buffer; *len gets its size. */
static inline uint8_t *st_serialize(const struct st_writer *w, size_t *len)
{
    size_t hcap = 256 + 192 * (size_t)w->n, hl = 0, off = 0;
    char *h = malloc(hcap);
    hl += (size_t)snprintf(h + hl, hcap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < w->n; i++) {
        const struct st_entry *e = &w->e[i];
        size_t bytes = st_bytes(e);
        char shape[96] = "";
        for (int d = 0; d < e->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "",
                     (long long)e->shape[d]);
        hl += (size_t)snprintf(h + hl, hcap - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                               e->name, e->dtype ? e->dtype : "F32", shape, off, off + bytes);
        off += bytes;
    }
    hl += (size_t)snprintf(h + hl, hcap - hl, "}");
    while (hl % 8) /* the format pads the header with spaces to 8-byte alignment */
        h[hl++] = ' ';
    *len = 8 + hl + off;
    uint8_t *buf = malloc(*len);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, h, hl);
    free(h);
    size_t at = 8 + hl;
    for (int i = 0; i < w->n; i++) {
        memcpy(buf + at, w->e[i].data, st_bytes(&w->e[i]));
        at += st_bytes(&w->e[i]);
    }
    return buf;
}

static inline int st_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(buf, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

#endif
