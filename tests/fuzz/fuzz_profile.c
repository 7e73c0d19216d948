/* fuzz_profile.c — the device profile reader (ab_profile_parse) on arbitrary JSON text. */
#include "accelbench.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct ab_profile p;
    struct ab_error err = { { 0 } };
    if (ab_profile_parse(text, "fuzz.json", &p, &err) == AB_OK) {
        if (!memchr(p.name, '\0', sizeof p.name) || !memchr(p.match, '\0', sizeof p.match) ||
            !memchr(p.backend, '\0', sizeof p.backend))
            __builtin_trap();
    }
    free(text);
    return 0;
}
