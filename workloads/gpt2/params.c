/* params.c — GPT-2's parameters apart from the model that runs them: the published shapes,
 * config.json, the parameter count (checked arithmetic: the sizes come from files), and
 * loading them from a safetensors file or its bytes in memory. No ops here, so the fuzz
 * target of config.json and safetensors together links this file alone. */
#include "model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ configurations */

bool gpt2_config_named(const char *model, struct gpt2_config *out)
{
    static const struct {
        const char *name;
        int layers, embd, heads;
    } table[] = {
        { "124M", 12, 768, 12 },
        { "355M", 24, 1024, 16 },
        { "774M", 36, 1280, 20 },
        { "1558M", 48, 1600, 25 },
        /* not published: the check suite's, small enough for an FP64 reference of every
         * position, with the real vocabulary so the padded output projection is exercised */
        { "tiny", 2, 128, 4 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(model, table[i].name) == 0) {
            *out = (struct gpt2_config){ table[i].layers, table[i].embd, table[i].heads, GPT2_VOCAB,
                                         GPT2_MAX_POS };
            return true;
        }
    return false;
}

static bool json_int(const cJSON *root, const char *key, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > 1e7 ||
        j->valuedouble != floor(j->valuedouble))
        return false;
    *out = (int)j->valuedouble;
    return true;
}

ab_status gpt2_config_parse_json(const char *json, struct gpt2_config *out, struct ab_error *err)
{
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ab_fail(err, AB_EINVAL, "config.json: not a JSON object");
    }
    static const char *const keys[] = { "n_layer", "n_embd", "n_head", "vocab_size", "n_positions" };
    int *dst[] = { &out->n_layer, &out->n_embd, &out->n_head, &out->vocab, &out->max_pos };
    for (int i = 0; i < 5; i++)
        if (!json_int(root, keys[i], dst[i])) {
            cJSON_Delete(root);
            return ab_fail(err, AB_EINVAL, "config.json: field %s missing or not a positive integer",
                           keys[i]);
        }
    cJSON_Delete(root);
    if (out->n_embd % out->n_head)
        return ab_fail(err, AB_EINVAL, "config.json: n_embd %d not a multiple of n_head %d", out->n_embd,
                       out->n_head);
    return AB_OK;
}

/* Embeddings, 12C^2 + 13C per layer, the final LayerNorm. Sizes come from files: every product
 * is checked, and SIZE_MAX means "does not fit". */
size_t gpt2_param_count(const struct gpt2_config *cfg)
{
    size_t C = (size_t)cfg->n_embd, emb, lay, cc, t;
    bool over = __builtin_mul_overflow(C, C, &cc) || __builtin_mul_overflow(cc, (size_t)12, &lay) ||
                __builtin_add_overflow(lay, 13 * C, &lay) ||
                __builtin_mul_overflow(lay, (size_t)cfg->n_layer, &lay) ||
                __builtin_mul_overflow((size_t)cfg->vocab + (size_t)cfg->max_pos, C, &emb) ||
                __builtin_add_overflow(emb, lay, &t) || __builtin_add_overflow(t, 2 * C, &t) ||
                t > SIZE_MAX / sizeof(float) / 4; /* bytes of fp32 copies must fit too */
    return over ? SIZE_MAX : t;
}

/* ------------------------------------------------------------------ parameters */

ab_status gpt2_params_alloc(struct gpt2_params *p, const struct gpt2_config *cfg, struct ab_error *err)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    size_t n = gpt2_param_count(cfg), C = (size_t)cfg->n_embd;
    if (n == SIZE_MAX)
        return ab_fail(err, AB_EINVAL,
                       "a model of %d layers, %d wide, %d tokens and %d positions does not fit in memory",
                       cfg->n_layer, cfg->n_embd, cfg->vocab, cfg->max_pos);
    p->mem = ab_alloc(n * sizeof(float));
    p->layers = calloc((size_t)cfg->n_layer, sizeof *p->layers);
    if (!p->mem || !p->layers) {
        gpt2_params_free(p);
        return ab_fail(err, AB_ENOMEM, "cannot allocate %zu parameters (%.2f GB)", n, n * 4e-9);
    }
    float *q = p->mem;
    p->wte = q, q += (size_t)cfg->vocab * C;
    p->wpe = q, q += (size_t)cfg->max_pos * C;
    for (int l = 0; l < cfg->n_layer; l++) {
        struct gpt2_layer *L = &p->layers[l];
        L->ln1_g = q, q += C;
        L->ln1_b = q, q += C;
        L->qkv_w = q, q += 3 * C * C;
        L->qkv_b = q, q += 3 * C;
        L->proj_w = q, q += C * C;
        L->proj_b = q, q += C;
        L->ln2_g = q, q += C;
        L->ln2_b = q, q += C;
        L->fc_w = q, q += 4 * C * C;
        L->fc_b = q, q += 4 * C;
        L->fcp_w = q, q += 4 * C * C;
        L->fcp_b = q, q += C;
    }
    p->lnf_g = q, q += C;
    p->lnf_b = q;
    return AB_OK;
}

void gpt2_params_free(struct gpt2_params *p)
{
    ab_free(p->mem);
    free(p->layers);
    memset(p, 0, sizeof *p);
}

/* Fill in parallel chunks, each from its own seed, so the result is the same for any thread
 * count. Values are the sum of four 16-bit uniforms from one 64-bit draw, centred and scaled
 * to unit variance: near-normal (Irwin-Hall), never exactly zero in practice, and about 50x
 * cheaper than Box-Muller, which made setup of the larger models take minutes. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(float *x, size_t n, uint64_t seed, float mean, float scale)
{
    const size_t chunk = 1u << 16;
    size_t nc = (n + chunk - 1) / chunk;
    /* sum of 4 uniforms on [0, 65536): mean 131070, variance 4 * 65536^2 / 12 */
    const float k = scale / (65536.0f / sqrtf(3.0f));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nc; i++) {
        uint64_t st = seed * 0x2545f4914f6cdd1dull + i;
        size_t end = i + 1 < nc ? (i + 1) * chunk : n;
        for (size_t j = i * chunk; j < end; j++) {
            uint64_t r = splitmix64(&st);
            float u = (float)((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
            x[j] = mean + (u - 131070.0f) * k;
        }
    }
}

void gpt2_params_random(struct gpt2_params *p, uint64_t seed)
{
    size_t C = (size_t)p->cfg.n_embd;
    float res = 0.02f / sqrtf(2.0f * (float)p->cfg.n_layer);
    uint64_t s = seed * 64;
    fill(p->wte, (size_t)p->cfg.vocab * C, s++, 0, 0.02f);
    fill(p->wpe, (size_t)p->cfg.max_pos * C, s++, 0, 0.01f);
    for (int l = 0; l < p->cfg.n_layer; l++) {
        struct gpt2_layer *L = &p->layers[l];
        fill(L->ln1_g, C, s++, 1, 0.05f), fill(L->ln1_b, C, s++, 0, 0.02f);
        fill(L->qkv_w, 3 * C * C, s++, 0, 0.02f), fill(L->qkv_b, 3 * C, s++, 0, 0.02f);
        fill(L->proj_w, C * C, s++, 0, res), fill(L->proj_b, C, s++, 0, 0.02f);
        fill(L->ln2_g, C, s++, 1, 0.05f), fill(L->ln2_b, C, s++, 0, 0.02f);
        fill(L->fc_w, 4 * C * C, s++, 0, 0.02f), fill(L->fc_b, 4 * C, s++, 0, 0.02f);
        fill(L->fcp_w, 4 * C * C, s++, 0, res), fill(L->fcp_b, C, s++, 0, 0.02f);
    }
    fill(p->lnf_g, C, s++, 1, 0.05f), fill(p->lnf_b, C, s++, 0, 0.02f);
}

ab_status gpt2_params_from_safetensors(struct gpt2_params *p, const struct gpt2_st_file *f,
                                       struct ab_error *err)
{
    const char *pre = gpt2_safetensors_find(f, "wte.weight") ? "" : "transformer.";
    int64_t C = p->cfg.n_embd, V = p->cfg.vocab;
    char name[96];
    ab_status st;
#define GET(suffix, dst, rows, cols, tr)                                                                     \
    do {                                                                                                     \
        snprintf(name, sizeof name, "%s%s", pre, suffix);                                                    \
        if ((st = gpt2_safetensors_get_f32(f, name, rows, cols, tr, dst, err)))                              \
            return st;                                                                                       \
    } while (0)
    GET("wte.weight", p->wte, V, C, false);
    GET("wpe.weight", p->wpe, p->cfg.max_pos, C, false);
    GET("ln_f.weight", p->lnf_g, C, 0, false);
    GET("ln_f.bias", p->lnf_b, C, 0, false);
    for (int l = 0; l < p->cfg.n_layer; l++) {
        struct gpt2_layer *L = &p->layers[l];
        char s[64];
        /* Conv1D weights are stored (in, out): transpose to (out, in). */
#define GETL(suffix, dst, rows, cols, tr)                                                                    \
    do {                                                                                                     \
        snprintf(s, sizeof s, "h.%d.%s", l, suffix);                                                         \
        GET(s, dst, rows, cols, tr);                                                                         \
    } while (0)
        GETL("ln_1.weight", L->ln1_g, C, 0, false);
        GETL("ln_1.bias", L->ln1_b, C, 0, false);
        GETL("attn.c_attn.weight", L->qkv_w, C, 3 * C, true);
        GETL("attn.c_attn.bias", L->qkv_b, 3 * C, 0, false);
        GETL("attn.c_proj.weight", L->proj_w, C, C, true);
        GETL("attn.c_proj.bias", L->proj_b, C, 0, false);
        GETL("ln_2.weight", L->ln2_g, C, 0, false);
        GETL("ln_2.bias", L->ln2_b, C, 0, false);
        GETL("mlp.c_fc.weight", L->fc_w, C, 4 * C, true);
        GETL("mlp.c_fc.bias", L->fc_b, 4 * C, 0, false);
        GETL("mlp.c_proj.weight", L->fcp_w, 4 * C, C, true);
        GETL("mlp.c_proj.bias", L->fcp_b, C, 0, false);
#undef GETL
    }
#undef GET
    return AB_OK;
}

ab_status gpt2_config_load(const char *weights, char *path, size_t path_len, struct gpt2_config *out,
                           struct ab_error *err)
{
    struct stat ps;
    bool dir = stat(weights, &ps) == 0 && S_ISDIR(ps.st_mode);
    size_t wl = strlen(weights);
    while (dir && wl > 1 && weights[wl - 1] == '/')
        wl--;
    if (snprintf(path, path_len, "%.*s%s", (int)wl, weights, dir ? "/model.safetensors" : "") >=
        (int)path_len)
        return ab_fail(err, AB_EINVAL, "weights %.60s...: path too long", weights);
    char cfg_path[4200];
    const char *slash = strrchr(path, '/');
    snprintf(cfg_path, sizeof cfg_path, "%.*sconfig.json", slash ? (int)(slash - path + 1) : 0, path);
    char *json = NULL;
    size_t jlen;
    ab_status st = ab_read_file_max(cfg_path, (size_t)1 << 20, &json, &jlen, err); /* a config is small */
    if (st)
        return ab_fail_prefix(err, st, "weights %s: config.json beside it", path);
    st = gpt2_config_parse_json(json, out, err);
    free(json);
    return st ? ab_fail_prefix(err, st, "%s", cfg_path) : AB_OK;
}

ab_status gpt2_params_load(struct gpt2_params *p, const char *weights, struct ab_error *err)
{
    memset(p, 0, sizeof *p);
    char path[4096];
    struct gpt2_config cfg;
    ab_status st = gpt2_config_load(weights, path, sizeof path, &cfg, err);
    if (st)
        return st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ab_fail(err, AB_EIO, "weights %s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        return ab_fail(err, AB_EINVAL, "weights %s: %s", path,
                       dir ? "is a folder: name its model.safetensors" : "not a regular file");
    }
    if (sb.st_size < 8) {
        close(fd);
        return ab_fail(err, AB_EINVAL, "weights %s: not a safetensors file (too short)", path);
    }
    size_t len = (size_t)sb.st_size;
    if ((st = gpt2_config_fits_file(&cfg, len, err))) {
        close(fd);
        return ab_fail_prefix(err, st, "weights %s", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return ab_fail(err, AB_EIO, "weights %s: cannot map", path);
    st = gpt2_params_from_memory(p, &cfg, map, len, err);
    munmap(map, len);
    return st ? ab_fail_prefix(err, st, "weights %s", path) : AB_OK;
}

ab_status gpt2_config_fits_file(const struct gpt2_config *cfg, size_t len, struct ab_error *err)
{
    /* Every parameter takes at least 2 bytes in the file (bf16/fp16): a config that claims more
     * is not this file's, and is refused before anything is allocated. */
    size_t np = gpt2_param_count(cfg);
    if (np == SIZE_MAX || np > len / 2)
        return ab_fail(err, AB_EINVAL,
                       "config.json describes %s parameters, more than the %zu-byte file can hold",
                       np == SIZE_MAX ? "too many" : "more", len);
    return AB_OK;
}

ab_status gpt2_params_from_memory(struct gpt2_params *p, const struct gpt2_config *cfg, const void *file,
                                  size_t len, struct ab_error *err)
{
    memset(p, 0, sizeof *p);
    ab_status st = gpt2_config_fits_file(cfg, len, err);
    if (st)
        return st;
    struct gpt2_st_file f;
    if (!(st = gpt2_safetensors_parse(file, len, &f, err))) {
        if (!(st = gpt2_params_alloc(p, cfg, err)) && (st = gpt2_params_from_safetensors(p, &f, err)))
            gpt2_params_free(p);
        gpt2_safetensors_free(&f);
    }
    return st;
}
