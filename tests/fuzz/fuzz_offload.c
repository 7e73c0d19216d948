/* fuzz_offload.c — the offload command's input path: its -a settings and a results CSV, parsed
 * by offload_model_parse and ab_results_load, then the figures computed from the latest rows. The
 * input is two parts split at a line "%%": settings (one -a value a line), then the CSV. */
#include "offload.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size;
    for (size_t i = 0; i + 3 <= size; i++)
        if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, "%%\n", 3) == 0) {
            cut = i;
            break;
        }
    char text[1024];
    size_t tl = cut < sizeof text - 1 ? cut : sizeof text - 1;
    memcpy(text, data, tl);
    text[tl] = '\0';
    const char *settings[16];
    int n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < 16;
         line = strtok_r(NULL, "\n", &save))
        settings[n++] = line;
    struct offload_model m;
    struct ab_error err = { { 0 } };
    if (offload_model_parse(settings, n, &m, &err) != AB_OK) {
        if (!err.msg[0])
            __builtin_trap(); /* every refusal says why */
        return 0;
    }
    if (m.hidden < 1 || m.heads < 1 || m.kv_heads < 1 || m.heads % m.kv_heads || m.head_dim < 1 ||
        m.layers < 1)
        __builtin_trap(); /* an accepted shape holds together */
    size_t start = cut + 3 <= size ? cut + 3 : size;
    char path[64], warn[256];
    int fd = fuzz_memfile(data + start, size - start, path, sizeof path);
    if (fd < 0)
        return 0;
    struct ab_result_set set = { 0 };
    const char *paths[1] = { path };
    if (ab_results_load(paths, 1, &set, warn, sizeof warn, &err) == AB_OK) {
        int nl = 0;
        const struct ab_result **latest = ab_results_latest(&set, &nl);
        struct offload_answer *a = calloc(1, sizeof *a);
        if (a && (latest || nl == 0) && offload_compute(&m, latest, nl, a, &err) == AB_OK) {
            int missing = 0;
            for (int i = 0; i < a->n; i++)
                missing += isnan(a->items[i].value);
            if (missing != a->n_missing || a->n < 3)
                __builtin_trap(); /* the count of missing figures is the figures' own */
        }
        free(a);
        free(latest);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
    close(fd);
    ab_result_set_free(&set);
    return 0;
}
