/* cmd_offload.c — `accelbench offload RESULTS... -a model=...`: is the link fast enough to split
 * attention from the rest of a model (Lamina)? The figures come from offload.c, computed from the
 * latest row of each case in the results; this file parses the command line and prints them as a
 * table, CSV or JSON. Exit 0 with every figure measured, 1 when one is missing (named), 2 on bad
 * input. */
#include "cli.h"
#include "offload.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: accelbench offload RESULTS... [-a model=gpt2-1558m | -a hidden=H,heads=NH,layers=L,...]\n"
        "                          [-a batch=B] [-a context=N] [--format table|csv|json] [-o FILE]\n\n"
        "Would attention offloading (Lamina) pay on these devices? From result files or folders,\n"
        "for one decode step of a model at a batch and a context, per layer: the bytes sent between\n"
        "a dense device and an attention device (q and the new k, v rows out, the attention output\n"
        "back, in the model's dtype), the link's latency and bandwidth (interconnect rows of the size\n"
        "nearest each message), the attention time (the nearest attention_memory mode=decode row,\n"
        "scaled by its decode bytes) and the dense time (the nearest transformer_block row scaled by\n"
        "dense FLOPs, else a gpt2 decode row of the same model), and the fraction of the step the\n"
        "transfer takes. A figure the results lack is named as missing (exit 1), never assumed.\n\n"
        "  -a NAME=VALUE[,...]  the model and the step (repeatable): model=gpt2-124m, gpt2-355m,\n"
        "                       gpt2-774m or gpt2-1558m; or a shape: hidden, heads and layers\n"
        "                       (required without model), kv_heads (default heads; fewer for\n"
        "                       grouped-query attention), head_dim (default hidden / heads), ffn\n"
        "                       (default 4 x hidden), mlp=gelu (default, 2 matrices) or swiglu (3);\n"
        "                       dtype of activations, weights and KV cache (default bf16; fp16,\n"
        "                       fp32, fp8_e4m3, fp8_e5m2); batch (default 8); context, the KV\n"
        "                       tokens (default 4096); link=net (MPI ping-pong), p2p or pcie\n"
        "                       (pinned d2h out, h2d back), default the first measured of those;\n"
        "                       dense=transformer_block or gpt2 (default: the first found)\n"
        "  --format F           table (default), csv (name,value,unit,source) or json\n"
        "  -o, --output F       write to F (replaced whole) instead of standard output\n\n"
        "Example, a 70B-class shape:\n"
        "  accelbench offload results/ -a hidden=8192,heads=64,kv_heads=8,layers=80,ffn=28672,mlp=swiglu\n");
}

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

static void model_line(const struct offload_model *m, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s%shidden=%d heads=%d kv_heads=%d head_dim=%d layers=%d ffn=%d mlp=%s dtype=%s batch=%d "
             "context=%d",
             m->name, m->name[0] ? " " : "", m->hidden, m->heads, m->kv_heads, m->head_dim, m->layers, m->ffn,
             m->swiglu ? "swiglu" : "gelu", ab_dtype_name(m->dtype), m->batch, m->context);
}

static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_answer(FILE *f, enum fmt fmt, const struct offload_model *m, const struct offload_answer *a)
{
    char line[512];
    model_line(m, line, sizeof line);
    if (fmt == FMT_TABLE) {
        fprintf(f, "offload: %s\n\n", line);
        for (int i = 0; i < a->n; i++) {
            const struct offload_item *it = &a->items[i];
            char v[32];
            if (isnan(it->value))
                snprintf(v, sizeof v, "-");
            else
                snprintf(v, sizeof v, "%.4g", it->value);
            fprintf(f, "%-26s %11s %-4s %s\n", it->name, v, it->unit, it->source);
        }
        if (a->n_missing)
            fprintf(f, "\n%d figure%s missing: see above.\n", a->n_missing, a->n_missing == 1 ? "" : "s");
        return 0;
    }
    if (fmt == FMT_CSV) {
        fprintf(f, "name,value,unit,source\n");
        for (int i = 0; i < a->n; i++) {
            const struct offload_item *it = &a->items[i];
            fprintf(f, "%s,", it->name);
            if (!isnan(it->value))
                fprintf(f, "%.9g", it->value);
            fprintf(f, ",%s,", it->unit);
            csv_text(f, it->source);
            fputc('\n', f);
        }
        return 0;
    }
    cJSON *root = cJSON_CreateObject(), *mo = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(mo, "name", m->name);
    cJSON_AddNumberToObject(mo, "hidden", m->hidden);
    cJSON_AddNumberToObject(mo, "heads", m->heads);
    cJSON_AddNumberToObject(mo, "kv_heads", m->kv_heads);
    cJSON_AddNumberToObject(mo, "head_dim", m->head_dim);
    cJSON_AddNumberToObject(mo, "layers", m->layers);
    cJSON_AddNumberToObject(mo, "ffn", m->ffn);
    cJSON_AddStringToObject(mo, "mlp", m->swiglu ? "swiglu" : "gelu");
    cJSON_AddStringToObject(mo, "dtype", ab_dtype_name(m->dtype));
    cJSON_AddNumberToObject(mo, "batch", m->batch);
    cJSON_AddNumberToObject(mo, "context", m->context);
    cJSON *items = cJSON_AddArrayToObject(root, "items");
    for (int i = 0; i < a->n; i++) {
        const struct offload_item *it = &a->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", it->name);
        if (isnan(it->value))
            cJSON_AddNullToObject(o, "value");
        else
            cJSON_AddNumberToObject(o, "value", it->value);
        cJSON_AddStringToObject(o, "unit", it->unit);
        cJSON_AddStringToObject(o, "source", it->source);
        cJSON_AddItemToArray(items, o);
    }
    cJSON_AddNumberToObject(root, "missing", a->n_missing);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -1;
    fprintf(f, "%s\n", text);
    free(text);
    return 0;
}

int ab_cmd_offload(int argc, char **argv)
{
    enum { O_FORMAT = 256 };
    static const struct option opts[] = { { "format", required_argument, NULL, O_FORMAT },
                                          { "output", required_argument, NULL, 'o' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    const char *settings[AB_MAX_SELECT];
    int n_settings = 0;
    enum fmt fmt = FMT_TABLE;
    const char *out_path = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ha:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (n_settings == AB_MAX_SELECT) {
                ab_cli_error("offload: at most %d -a options", AB_MAX_SELECT);
                return 2;
            }
            settings[n_settings++] = optarg;
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "table")) {
                fmt = FMT_TABLE;
            } else if (!strcmp(optarg, "csv")) {
                fmt = FMT_CSV;
            } else if (!strcmp(optarg, "json")) {
                fmt = FMT_JSON;
            } else {
                ab_cli_error("offload: unknown format \"%s\" (valid: table, csv, json)", optarg);
                return 2;
            }
            break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("offload: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("offload: unknown option \"%s\" (see accelbench offload --help)", argv[optind - 1]);
            return 2;
        }
    }
    struct ab_error err = { { 0 } };
    struct offload_model m;
    if (offload_model_parse(settings, n_settings, &m, &err) != AB_OK) {
        ab_cli_error("offload: %s", err.msg);
        return 2;
    }
    if (argc - optind < 1) {
        ab_cli_error("offload: expected one or more result files or folders (see accelbench offload --help)");
        return 2;
    }
    struct ab_result_set set = { 0 };
    char warn[1024];
    int rc = 2, nl = 0;
    const struct ab_result **latest = NULL;
    struct offload_answer *a = calloc(1, sizeof *a);
    char tmp[4300] = "";
    FILE *f = stdout;
    if (!a) {
        ab_cli_error("offload: out of memory");
        goto out;
    }
    if (ab_results_load((const char *const *)&argv[optind], argc - optind, &set, warn, sizeof warn, &err) !=
        AB_OK) {
        ab_cli_error("offload: %s", err.msg);
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "accelbench: offload: warning: %s\n", warn);
    latest = ab_results_latest(&set, &nl);
    if (!latest && set.n > 0) {
        ab_cli_error("offload: out of memory");
        goto out;
    }
    if (offload_compute(&m, latest, nl, a, &err) != AB_OK) {
        ab_cli_error("offload: %s", err.msg);
        goto out;
    }
    if (out_path) {
        int fd = -1;
        if (ab_temp_beside(out_path, tmp, sizeof tmp, &fd, &err) != AB_OK) {
            ab_cli_error("offload: %s", err.msg);
            tmp[0] = '\0';
            goto out;
        }
        f = fdopen(fd, "w");
        if (!f) {
            ab_cli_error("offload: %s: %s", tmp, strerror(errno));
            close(fd);
            goto out;
        }
    }
    bool bad = write_answer(f, fmt, &m, a) != 0;
    if (out_path) {
        bad |= fclose(f) != 0;
        f = NULL;
        if (bad) {
            ab_cli_error("offload: %s: write failed (disk full?)", out_path);
            goto out;
        }
        if (rename(tmp, out_path) != 0) {
            ab_cli_error("offload: %s: cannot rename into place: %s", out_path, strerror(errno));
            goto out;
        }
        tmp[0] = '\0';
    }
    for (int i = 0; a->n_missing && i < a->n; i++)
        if (!strncmp(a->items[i].source, "missing:", 8))
            fprintf(stderr, "accelbench: offload: %s %s\n", a->items[i].name, a->items[i].source);
    rc = a->n_missing ? 1 : 0;
out:
    if (f && f != stdout)
        fclose(f);
    if (tmp[0])
        unlink(tmp);
    free(latest);
    free(a);
    ab_result_set_free(&set);
    return rc;
}
