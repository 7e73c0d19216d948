/* fuzz_gpt2_load.c — config.json and a safetensors file together, as gpt2 loads real weights:
 * the input is the config's JSON, a NUL byte, then the file's bytes. Sizes from the config
 * (which json accepts up to 1e7 each, enough to wrap size_t when multiplied) must be checked
 * against the file before anything is allocated, and every tensor read must stay inside it. */
#include "accelbench.h"
#include "fuzz_util.h"
#include "gpt2/model.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul)
        return 0;
    size_t jl = (size_t)(nul - data);
    char *json = malloc(jl + 1);
    if (!json)
        return 0;
    memcpy(json, data, jl);
    json[jl] = '\0';
    struct gpt2_config cfg;
    struct ab_error err = { { 0 } };
    ab_status st = gpt2_config_parse_json(json, &cfg, &err);
    free(json);
    if (st != AB_OK) {
        if (!err.msg[0])
            __builtin_trap();
        return 0;
    }
    /* the file's bytes in a buffer of exactly their size, so a read past them is caught */
    size_t fl = size - jl - 1;
    uint8_t *file = malloc(fl ? fl : 1);
    if (!file)
        return 0;
    memcpy(file, nul + 1, fl);
    struct gpt2_params p;
    st = gpt2_params_from_memory(&p, &cfg, file, fl, &err);
    if (st == AB_OK) {
        if (gpt2_param_count(&cfg) > fl / 2)
            __builtin_trap(); /* more parameters than the file can hold got through */
        gpt2_params_free(&p);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
    free(file);
    return 0;
}
