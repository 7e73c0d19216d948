/* keymap.c — a map from strings to int64 values: open addressing with linear probing over a
 * power-of-two table kept at most half full, FNV-1a hashes, keys copied. It is what lets
 * compare and plot match cases by key in one pass instead of rows x rows; it is not a general
 * container (no removal, no iteration). */
#include "accelbench.h"

#include <stdlib.h>
#include <string.h>

struct ab_keymap {
    char **keys; /* NULL: empty slot */
    int64_t *vals;
    size_t cap; /* a power of two */
    size_t n;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

/* The slot holding key, or the empty slot where it belongs. */
static size_t slot_of(char *const *keys, size_t cap, const char *key)
{
    size_t i = (size_t)fnv1a(key) & (cap - 1);
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static bool resize(struct ab_keymap *m, size_t cap)
{
    char **keys = calloc(cap, sizeof *keys);
    int64_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = slot_of(keys, cap, m->keys[i]);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

ab_status ab_keymap_create(int64_t n_hint, struct ab_keymap **out, struct ab_error *err)
{
    *out = NULL;
    struct ab_keymap *m = calloc(1, sizeof *m);
    size_t cap = 16;
    while (n_hint > 0 && cap / 2 < (size_t)n_hint)
        cap *= 2;
    if (!m || !resize(m, cap)) {
        free(m);
        return ab_fail(err, AB_ENOMEM, "out of memory for a key map of %lld keys", (long long)n_hint);
    }
    *out = m;
    return AB_OK;
}

void ab_keymap_destroy(struct ab_keymap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    free(m);
}

int64_t ab_keymap_get(const struct ab_keymap *m, const char *key)
{
    size_t i = slot_of(m->keys, m->cap, key);
    return m->keys[i] ? m->vals[i] : -1;
}

ab_status ab_keymap_put(struct ab_keymap *m, const char *key, int64_t value, struct ab_error *err)
{
    size_t i = slot_of(m->keys, m->cap, key);
    if (!m->keys[i]) {
        if (2 * (m->n + 1) > m->cap) {
            if (!resize(m, 2 * m->cap))
                return ab_fail(err, AB_ENOMEM, "out of memory growing a key map");
            i = slot_of(m->keys, m->cap, key);
        }
        if (!(m->keys[i] = strdup(key)))
            return ab_fail(err, AB_ENOMEM, "out of memory growing a key map");
        m->n++;
    }
    m->vals[i] = value;
    return AB_OK;
}
