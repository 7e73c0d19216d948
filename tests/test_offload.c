/* test_offload.c — `accelbench offload` against a small real run: attention_memory decode and
 * transformer_block (seq=1) rows in one folder, MPI ping-pong rows under mpirun in another
 * (where Open MPI is installed and the build has MPI); every figure recomputed here from the rows
 * and the model's shape, independently of offload.c; missing measurements named; bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accelbench.h"
#include "config.h"
#include "test_util.h"

static char *dir;
static const char *exe;
static bool have_link; /* the ping-pong rows were measured */

static int sh(const char *cmd, char *out, size_t outlen, char *err, size_t errlen)
{
    char full[12288];
    snprintf(full, sizeof full, "export EXE='%s' D='%s'; %s", exe, dir, cmd);
    return test_shell(dir, full, out, outlen, err, errlen);
}

/* One run for every test: decode attention at context 4096 (batch 1 and 8, groups 1 and 8), one
 * dense layer of 8 tokens, and ping-pong at 4, 16 and 128 KiB between two ranks. */
static int group_setup(void **state)
{
    unsetenv("SLURM_PROCID");
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("PMI_RANK");
    if (test_exe_setup(&exe, &dir))
        return -1;
    char err[8192];
    int rc = sh("\"$EXE\" run -w attention_memory,transformer_block -d cpu --quick --no-ceilings "
                "-a attention_memory:mode=decode -a transformer_block:hidden=768 -a transformer_block:seq=1 "
                "-a transformer_block:batch=8 -a transformer_block:dtype=fp32 --min-time 0.02 --max-time 0.3 "
                "-q -o \"$D/run\"",
                NULL, 0, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "run exited %d: %s\n", rc, err);
        return -1;
    }
    if (HAVE_MPI && system("command -v mpirun >/dev/null 2>&1") == 0) {
        rc = sh("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun --allow-run-as-root "
                "--oversubscribe -n 2 \"$EXE\" run -w interconnect -d cpu --quick -a op=pingpong "
                "-a bytes=4K,16K,128K --min-time 0.02 --max-time 0.3 -q -o \"$D/link\"",
                NULL, 0, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "mpirun exited %d: %s\n", rc, err);
            return -1;
        }
        have_link = true;
    }
    return 0;
}

static int group_teardown(void **state)
{
    test_exe_teardown(&dir);
    return 0;
}

static void load_rows(const char *sub, struct ab_result_set *set)
{
    char path[4400], warn[256];
    struct ab_error e;
    const char *paths[] = { path };
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    memset(set, 0, sizeof *set);
    if (ab_results_load(paths, 1, set, warn, sizeof warn, &e) != AB_OK)
        fail_msg("%s", e.msg);
}

/* The ok row of workload whose params hold every "k=v;" of want (NULL: none). */
static const struct ab_result *row_with(const struct ab_result_set *s, const char *workload, const char *want)
{
    for (int64_t i = 0; i < s->n; i++) {
        const struct ab_result *r = &s->rows[i];
        if (r->status != AB_OK || strcmp(r->workload, workload) != 0)
            continue;
        char p[AB_PARAMS_TEXT_MAX + 2], w[256];
        snprintf(p, sizeof p, ";%s;", r->params);
        snprintf(w, sizeof w, "%s", want);
        bool all = true;
        for (char *save = NULL, *t = strtok_r(w, ";", &save); t && all; t = strtok_r(NULL, ";", &save)) {
            char k[128];
            snprintf(k, sizeof k, ";%s;", t);
            all = strstr(p, k) != NULL;
        }
        if (all)
            return r;
    }
    return NULL;
}

static cJSON *offload_json(const char *args, int want_rc)
{
    static char out[65536];
    char err[8192], cmd[4096];
    snprintf(cmd, sizeof cmd, "\"$EXE\" offload %s --format json", args);
    int rc = sh(cmd, out, sizeof out, err, sizeof err);
    if (rc != want_rc)
        fail_msg("offload %s exited %d (expected %d): %s", args, rc, want_rc, err);
    cJSON *j = cJSON_Parse(out);
    if (!j)
        fail_msg("offload %s: not JSON: %.400s", args, out);
    return j;
}

static const cJSON *item(const cJSON *j, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "items"))
    {
        if (!strcmp(cJSON_GetObjectItem(it, "name")->valuestring, name))
            return it;
    }
    fail_msg("no item %s", name);
    return NULL;
}

static double value(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(item(j, name), "value");
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *source(const cJSON *j, const char *name)
{
    return cJSON_GetObjectItem(item(j, name), "source")->valuestring;
}

#define close_to(a, b) assert_double_equal((a), (b), fabs(b) * 1e-6 + 1e-30)

/* What a model's step must come to, computed here from its shape and the rows. */
struct shape {
    double hidden, heads, kv_heads, hd, layers, ffn, mats, batch, context;
};

static void check_answer(const cJSON *j, const struct shape *s, const struct ab_result_set *run,
                         const struct ab_result_set *link)
{
    /* bf16: 2 bytes an element */
    double out = s->batch * (s->heads + 2 * s->kv_heads) * s->hd * 2, back = s->batch * s->heads * s->hd * 2;
    close_to(value(j, "bytes_out_per_layer"), out);
    close_to(value(j, "bytes_back_per_layer"), back);
    close_to(value(j, "bytes_per_step"), (out + back) * s->layers);

    /* attention: the decode row of batch 8 and the group nearest heads / kv_heads (1 or 8), its
     * time scaled by attention_memory's decode bytes: 2 B KVH N d e + B NH d (e + 4) */
    double g = s->heads / s->kv_heads;
    const struct ab_result *a =
        row_with(run, "attention_memory",
                 g >= sqrt(8) ? "mode=decode;batch=8;group=8" : "mode=decode;batch=8;group=1");
    assert_non_null(a);
    double ga = g >= sqrt(8) ? 8 : 1;
    double row_bytes = 2 * 8 * 1 * 4096 * 128 * 2.0 + 8 * ga * 128 * 6.0;
    close_to(a->bytes, row_bytes);
    double want_bytes = 2 * s->batch * s->kv_heads * s->context * s->hd * 2 + s->batch * s->heads * s->hd * 6;
    double attn = a->time_s.median * want_bytes / row_bytes;
    close_to(value(j, "attention_per_layer_s"), attn);
    assert_non_null(strstr(source(j, "attention_per_layer_s"), ga == 8 ? "group=8" : "group=1"));

    /* dense: the one transformer_block row (768 wide, 8 tokens), scaled by dense FLOPs */
    const struct ab_result *t = row_with(run, "transformer_block", "hidden=768;seq=1;batch=8");
    assert_non_null(t);
    double model_flops = 2 * s->batch *
                         (s->hidden * (s->heads + 2 * s->kv_heads) * s->hd + s->heads * s->hd * s->hidden +
                          s->mats * s->hidden * s->ffn);
    double dense = t->time_s.median * model_flops / (24.0 * 8 * 768 * 768);
    close_to(value(j, "dense_per_layer_s"), dense);

    if (!link) {
        assert_true(isnan(value(j, "transfer_per_layer_s")));
        assert_non_null(
            strstr(source(j, "link_latency_out_s"), "missing: no ok interconnect row of op=pingpong"));
        assert_true(isnan(value(j, "transfer_fraction_of_step")));
        return;
    }
    /* the link: latency the one-way time of 4 KiB (half the round trip), bandwidth of the size
     * nearest each message (by ratio) as bytes over half the round trip */
    static const double sizes[] = { 4096, 16384, 131072 };
    const struct ab_result *small = row_with(link, "interconnect", "op=pingpong;bytes=4096");
    assert_non_null(small);
    double lat = small->time_s.median / 2, transfer = 0;
    double msgs[2] = { out, back };
    for (int k = 0; k < 2; k++) {
        int best = 0;
        for (int i = 1; i < 3; i++)
            if (fabs(log(sizes[i] / msgs[k])) <= fabs(log(sizes[best] / msgs[k])))
                best = i;
        char want[64];
        snprintf(want, sizeof want, "op=pingpong;bytes=%.0f", sizes[best]);
        const struct ab_result *r = row_with(link, "interconnect", want);
        assert_non_null(r);
        double bw = sizes[best] / (r->time_s.median / 2);
        close_to(value(j, k ? "link_bw_back_byte_per_s" : "link_bw_out_byte_per_s"), bw);
        close_to(value(j, k ? "link_latency_back_s" : "link_latency_out_s"), lat);
        transfer += lat + msgs[k] / bw;
    }
    close_to(value(j, "transfer_per_layer_s"), transfer);
    double step = dense + attn + transfer;
    close_to(value(j, "step_per_layer_s"), step);
    close_to(value(j, "step_s"), step * s->layers);
    close_to(value(j, "transfer_fraction_of_step"), transfer / step);
    close_to(value(j, "transfer_over_attention"), transfer / attn);
    assert_int_equal((int)cJSON_GetObjectItem(j, "missing")->valuedouble, 0);
}

static void gpt2_1558m_step_from_the_rows(void **state)
{
    struct ab_result_set run, link;
    load_rows("run", &run);
    if (have_link)
        load_rows("link", &link);
    cJSON *j = offload_json(have_link ? "\"$D/run\" \"$D/link\" -a model=gpt2-1558M"
                                      : "\"$D/run\" -a model=gpt2-1558m",
                            have_link ? 0 : 1);
    const cJSON *m = cJSON_GetObjectItem(j, "model");
    assert_string_equal(cJSON_GetObjectItem(m, "name")->valuestring, "gpt2-1558m");
    const struct shape s = { 1600, 25, 25, 64, 48, 6400, 2, 8, 4096 };
    check_answer(j, &s, &run, have_link ? &link : NULL);
    cJSON_Delete(j);
    ab_result_set_free(&run);
    if (have_link)
        ab_result_set_free(&link);
}

static void a_70b_class_shape_by_axes(void **state)
{
    struct ab_result_set run, link;
    load_rows("run", &run);
    if (have_link)
        load_rows("link", &link);
    char args[512];
    snprintf(args, sizeof args,
             "\"$D/run\" %s -a hidden=8192,heads=64,kv_heads=8,layers=80 -a ffn=28672 "
             "-a mlp=swiglu -a batch=16,context=8192",
             have_link ? "\"$D/link\"" : "");
    cJSON *j = offload_json(args, have_link ? 0 : 1);
    assert_double_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "head_dim")->valuedouble, 128,
                        0);
    const struct shape s = { 8192, 64, 8, 128, 80, 28672, 3, 16, 8192 };
    check_answer(j, &s, &run, have_link ? &link : NULL);
    cJSON_Delete(j);
    ab_result_set_free(&run);
    if (have_link)
        ab_result_set_free(&link);
}

/* Without attention rows the attention time and everything after it are named missing (exit 1):
 * the table says which run would give them. */
static void missing_measurements_are_named_with_exit_1(void **state)
{
    char out[16384], err[4096];
    assert_int_equal(
        sh("mkdir -p \"$D/tb\" && \"$EXE\" run -w transformer_block -d cpu --quick --no-ceilings "
           "-a hidden=768 -a seq=1 -a batch=8 -a dtype=fp32 --min-time 0.01 --max-time 0.1 -q "
           "-o \"$D/tb\"",
           NULL, 0, err, sizeof err),
        0);
    cJSON *j = offload_json("\"$D/tb\" -a model=gpt2-124m", 1);
    assert_true(isnan(value(j, "attention_per_layer_s")));
    assert_non_null(
        strstr(source(j, "attention_per_layer_s"), "missing: no ok attention_memory row of mode=decode"));
    assert_true(value(j, "dense_per_layer_s") > 0);
    assert_true(isnan(value(j, "step_per_layer_s")));
    assert_true(isnan(value(j, "transfer_fraction_of_step")));
    assert_true(cJSON_GetObjectItem(j, "missing")->valuedouble >= 4);
    cJSON_Delete(j);
    /* the table and stderr name them too */
    assert_int_equal(sh("\"$EXE\" offload \"$D/tb\" -a model=gpt2-124m", out, sizeof out, err, sizeof err),
                     1);
    assert_non_null(strstr(out, "attention_per_layer_s"));
    assert_non_null(strstr(err, "attention_per_layer_s missing"));
    /* dense=gpt2 asked for: no gpt2 decode row of the model */
    j = offload_json("\"$D/tb\" -a model=gpt2-124m -a dense=gpt2", 1);
    assert_non_null(strstr(source(j, "dense_per_layer_s"), "no ok gpt2 decode row of a model of hidden=768"));
    cJSON_Delete(j);
}

static void bad_input_exits_2_naming_it(void **state)
{
    static const struct {
        const char *args, *says;
    } bad[] = {
        { "\"$D/run\" -a model=gpt3", "model=gpt3: unknown model" },
        { "\"$D/run\" -a hidden=4096,heads=32,layers=32,flavour=x", "flavour: unknown setting" },
        { "\"$D/run\" -a hidden=4096,heads=32,layers=32,kv_heads=5", "kv_heads=5" },
        { "\"$D/run\" -a hidden=1000,heads=3,layers=2", "does not split into heads=3" },
        { "\"$D/run\" -a model=gpt2-124m,batch=0", "batch=0: expected a whole number" },
        { "\"$D/run\" -a model=gpt2-124m -a context=many", "context=many" },
        { "\"$D/run\" -a heads=8", "no model" },
        { "\"$D/run\" -a model=gpt2-124m -a mlp=relu", "mlp=relu" },
        { "\"$D/run\" -a model=gpt2-124m -a link=carrier-pigeon", "link=carrier-pigeon" },
        { "\"$D/run\" -a model=gpt2-124m -a dtype=fp64", "dtype=fp64" },
        { "\"$D/run\" -a model=gpt2-124m --format xml", "unknown format \"xml\"" },
        { "-a model=gpt2-124m", "expected one or more result files" },
        { "\"$D/nothing-here\" -a model=gpt2-124m", "nothing-here" },
        { "\"$D/run\" -a model", "expected NAME=VALUE" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[1024], err[4096];
        snprintf(cmd, sizeof cmd, "\"$EXE\" offload %s", bad[i].args);
        int rc = sh(cmd, NULL, 0, err, sizeof err);
        if (rc != 2 || !strstr(err, bad[i].says))
            fail_msg("offload %s: exit %d, stderr \"%s\" (expected 2 and \"%s\")", bad[i].args, rc, err,
                     bad[i].says);
    }
}

/* -o writes the file whole; csv has one line per figure. */
static void csv_to_a_file(void **state)
{
    char out[16384], err[4096], path[4400];
    int rc = sh("\"$EXE\" offload \"$D/run\" -a model=gpt2-124m --format csv -o \"$D/o.csv\"", out,
                sizeof out, err, sizeof err);
    assert_int_equal(rc, have_link ? 1 : 1); /* this folder has no link rows */
    assert_string_equal(out, "");
    snprintf(path, sizeof path, "%s/o.csv", dir);
    test_read_into(path, out, sizeof out);
    assert_true(!strncmp(out, "name,value,unit,source\nbytes_out_per_layer,36864,B,", 51));
    assert_non_null(strstr(out, "\nattention_per_layer_s,"));
    assert_non_null(strstr(out, "\nlink_latency_out_s,,s,\"missing: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_1558m_step_from_the_rows),
        cmocka_unit_test(a_70b_class_shape_by_axes),
        cmocka_unit_test(missing_measurements_are_named_with_exit_1),
        cmocka_unit_test(bad_input_exits_2_naming_it),
        cmocka_unit_test(csv_to_a_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
