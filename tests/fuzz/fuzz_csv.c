/* fuzz_csv.c — the results CSV reader (ab_csv_read) on arbitrary bytes: it must return a
 * status, never crash, leak or read out of bounds; a set it returns must be well formed. */
#include "accelbench.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], warn[256];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    ab_status st = ab_csv_read(path, &set, warn, sizeof warn, &err);
    if (st == AB_OK) {
        for (int64_t i = 0; i < set.n; i++) {
            char key[700];
            ab_result_key(&set.rows[i], key, sizeof key);
            (void)ab_status_word(set.rows[i].status);
            (void)ab_result_metric(&set.rows[i], "max_rel_err");
        }
        /* The tidy tables of whatever was read: every table, both formats. */
        FILE *null = fopen("/dev/null", "w");
        for (int t = 0; null && t < 3; t++)
            for (int f = 0; f < 2; f++)
                if (ab_export_write(&set, (enum ab_export_table)t, (enum ab_export_format)f, null,
                                    "/dev/null", warn, sizeof warn, &err) != AB_OK &&
                    !err.msg[0])
                    __builtin_trap();
        if (null)
            fclose(null);
    } else if (!memchr(err.msg, '\0', sizeof err.msg) || !err.msg[0]) {
        __builtin_trap(); /* every failure carries a message */
    }
    ab_result_set_free(&set);
    close(fd);
    return 0;
}
