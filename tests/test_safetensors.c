/* test_safetensors.c — the safetensors reader: conversion of F32/BF16/F16, and malformed
 * files (bad header length, JSON not an object, offsets past the end, wrong dtype or shape,
 * missing tensor, truncation at every byte) each rejected with a clear message, no crash.
 * With ACCELBENCH_WRITE_CORPUS=DIR the malformed inputs are also written there as seeds for
 * the fuzz target (tests/fuzz/corpus/safetensors/ holds the committed ones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "gpt2/model.h"
#include "gpt2/safetensors.h"
#include "st_writer.h"
#include "test_util.h"

/* A buffer of a header text and n data bytes (header length taken from the text). */
static uint8_t *with_header(const char *json, size_t data_bytes, size_t *len)
{
    size_t hl = strlen(json);
    *len = 8 + hl + data_bytes;
    uint8_t *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    for (size_t i = 0; i < data_bytes; i++)
        b[8 + hl + i] = (uint8_t)(0x3c + (i % 2)); /* finite values in any dtype */
    return b;
}

static void save_corpus(const char *name, const void *buf, size_t len)
{
    const char *d = getenv("ACCELBENCH_WRITE_CORPUS");
    if (!d)
        return;
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", d, name);
    if (st_write_file(p, buf, len) != 0)
        fprintf(stderr, "could not write %s\n", p);
}

/* Parse must fail with AB_EINVAL and a message containing `want`. */
static void expect_error(const char *corpus_name, const uint8_t *buf, size_t len, const char *want)
{
    save_corpus(corpus_name, buf, len);
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    ab_status st = gpt2_safetensors_parse(buf, len, &f, &err);
    if (st != AB_EINVAL)
        fail_msg("%s: status %d, expected AB_EINVAL (message \"%s\")", corpus_name, st, err.msg);
    if (!strstr(err.msg, want))
        fail_msg("%s: message \"%s\" does not say \"%s\"", corpus_name, err.msg, want);
    assert_null(f.tensors);
}

static void expect_header_error(const char *corpus_name, const char *json, size_t data, const char *want)
{
    size_t len;
    uint8_t *b = with_header(json, data, &len);
    expect_error(corpus_name, b, len, want);
    free(b);
}

static void reads_f32_bf16_and_f16_as_fp32(void **state)
{
    size_t len;
    uint8_t *b = with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                             "\"c\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[12,16]},"
                             "\"__metadata__\":{\"format\":\"pt\"}}",
                             16, &len);
    uint8_t *d = b + len - 16;
    float a[2] = { 1.5f, -2.25f };
    memcpy(d, a, 8);
    d[8] = 0xc0, d[9] = 0x3f;   /* bf16 0x3fc0 = 1.5 */
    d[10] = 0x80, d[11] = 0xbf; /* bf16 0xbf80 = -1 */
    d[12] = 0x00, d[13] = 0x3c; /* f16 0x3c00 = 1 */
    d[14] = 0x01, d[15] = 0x00; /* f16 0x0001 = 2^-24, a subnormal */
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    assert_int_equal(f.n_tensors, 3);
    float out[2];
    assert_int_equal(gpt2_safetensors_get_f32(&f, "a", 2, 0, false, out, &err), AB_OK);
    assert_true(out[0] == 1.5f && out[1] == -2.25f);
    assert_int_equal(gpt2_safetensors_get_f32(&f, "b", 2, 0, false, out, &err), AB_OK);
    assert_true(out[0] == 1.5f && out[1] == -1.0f);
    assert_int_equal(gpt2_safetensors_get_f32(&f, "c", 1, 2, false, out, &err), AB_OK);
    assert_true(out[0] == 1.0f && out[1] == ldexpf(1, -24));
    gpt2_safetensors_free(&f);
    free(b);
}

static void transposes_input_major_weights(void **state)
{
    float w[6] = { 1, 2, 3, 4, 5, 6 }; /* stored (2, 3) */
    struct st_writer wr = { 0 };
    st_add(&wr, "w", w, 2, 3);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    float t[6];
    assert_int_equal(gpt2_safetensors_get_f32(&f, "w", 2, 3, true, t, &err), AB_OK);
    const float want[6] = { 1, 4, 2, 5, 3, 6 }; /* (3, 2) */
    assert_memory_equal(t, want, sizeof want);
    gpt2_safetensors_free(&f);
    free(b);
}

static void bad_header_lengths_are_rejected(void **state)
{
    uint8_t tiny[5] = { 1, 2, 3, 4, 5 };
    expect_error("short_file", tiny, sizeof tiny, "too short");
    size_t len;
    uint8_t *b = with_header("{}", 0, &len);
    b[0] = 200; /* says 200 bytes of header, file has 2 */
    expect_error("header_past_end", b, len, "header length 200");
    b[0] = 0xff, b[7] = 0xff; /* absurd */
    expect_error("header_huge", b, len, "header length");
    b[0] = 0, b[7] = 0;
    expect_error("header_zero", b, len, "header length 0");
    free(b);
}

static void header_must_be_a_json_object(void **state)
{
    expect_header_error("not_json", "{\"a\": ", 0, "not valid JSON");
    expect_header_error("json_array", "[1, 2, 3]", 0, "not an object");
    expect_header_error("json_string", "\"weights\"", 0, "not an object");
    expect_header_error("entry_not_object", "{\"wte.weight\": 3}", 0, "wte.weight: entry is not an object");
}

static void offsets_past_the_end_are_truncation(void **state)
{
    expect_header_error("offsets_past_end",
                        "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12,
                        "wte.weight: data_offsets [0, 16] past the end");
    expect_header_error("offsets_reversed",
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 12,
                        "x: data_offsets");
    expect_header_error("offsets_negative",
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 12,
                        "x: \"data_offsets\"");
    expect_header_error("offsets_missing", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
                        "x: \"data_offsets\"");
}

static void wrong_dtype_or_size_is_rejected(void **state)
{
    expect_header_error("dtype_unknown",
                        "{\"h.0.ln_1.bias\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                        "h.0.ln_1.bias: dtype Q4 unknown");
    /* a type the loader does not read is still sized: its byte range must match */
    expect_header_error("dtype_i64_bytes",
                        "{\"h.0.attn.bias\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        "h.0.attn.bias: 8 bytes for 2 elements of I64");
    expect_header_error("dtype_missing", "{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                        "x: missing \"dtype\"");
    expect_header_error("bytes_mismatch", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                        8, "x: 8 bytes for 3 elements");
    expect_header_error("shape_not_int", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
                        4, "x: shape[0]");
    expect_header_error("shape_too_many_dims",
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                        "5 dimensions");
    expect_header_error(
        "shape_overflow",
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,4]}}", 4,
        "x: too many elements");
}

/* Exports write attention masks as BOOL or I64 (and other types the loader never reads): the
 * file parses, its other tensors read, and reading the mask itself says why it cannot. */
static void tensors_of_unread_dtypes_do_not_reject_the_file(void **state)
{
    float v[2] = { 1.5f, -2 };
    uint8_t mask[16];
    int64_t big[3] = { 1, 0, -1 };
    for (int i = 0; i < 16; i++)
        mask[i] = (uint8_t)(i % 5 == 0);
    struct st_writer wr = { 0 };
    st_add_raw(&wr, "h.0.attn.bias", "BOOL", 1, mask, 4, (const int64_t[]){ 1, 1, 4, 4 });
    st_add_raw(&wr, "h.0.attn.masked_bias", "I64", 8, big, 1, (const int64_t[]){ 3 });
    st_add_raw(&wr, "scalar", "F64", 8, big, 0, NULL);
    st_add(&wr, "ln_f.bias", v, 2, 0);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    save_corpus("bool_i64_masks", b, len);
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    assert_int_equal(f.n_tensors, 4);
    const struct gpt2_st_tensor *t = gpt2_safetensors_find(&f, "h.0.attn.bias");
    assert_non_null(t);
    assert_int_equal(t->ndim, 4);
    assert_int_equal(t->end - t->begin, 16);
    assert_string_equal(t->dtype_word, "BOOL");
    float out[16];
    assert_int_equal(gpt2_safetensors_get_f32(&f, "ln_f.bias", 2, 0, false, out, &err), AB_OK);
    assert_float_equal(out[1], -2, 0);
    assert_int_equal(gpt2_safetensors_get_f32(&f, "h.0.attn.masked_bias", 3, 0, false, out, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "h.0.attn.masked_bias: dtype I64, the loader reads F32, BF16 and F16"));
    gpt2_safetensors_free(&f);
    free(b);
}

static void wrong_shape_and_missing_tensor_name_the_tensor(void **state)
{
    float v[8] = { 0.5f, 1, 2, 3, 4, 5, 6, 7 };
    struct st_writer wr = { 0 };
    st_add(&wr, "h.0.attn.c_attn.weight", v, 2, 4);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    save_corpus("valid_small", b, len);
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    float out[8];
    assert_int_equal(gpt2_safetensors_get_f32(&f, "h.0.attn.c_attn.weight", 4, 2, true, out, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "tensor h.0.attn.c_attn.weight has shape [2, 4], expected [4, 2]"));
    assert_int_equal(gpt2_safetensors_get_f32(&f, "h.0.attn.c_attn.weight", 8, 0, false, out, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "expected [8]"));
    assert_int_equal(gpt2_safetensors_get_f32(&f, "wte.weight", 2, 4, false, out, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "tensor wte.weight missing"));
    gpt2_safetensors_free(&f);
    free(b);
}

static void non_finite_weights_are_rejected(void **state)
{
    float v[2] = { 1, NAN };
    struct st_writer wr = { 0 };
    st_add(&wr, "ln_f.bias", v, 2, 0);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    save_corpus("nan_value", b, len);
    struct gpt2_st_file f;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    float out[2];
    assert_int_equal(gpt2_safetensors_get_f32(&f, "ln_f.bias", 2, 0, false, out, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "ln_f.bias: element 1 is not finite"));
    gpt2_safetensors_free(&f);
    free(b);
}

static void model_loader_names_the_missing_tensor(void **state)
{
    /* a 1-layer, 8-wide model whose file lacks h.0.mlp.c_fc.bias */
    struct gpt2_config cfg = { .n_layer = 1, .n_embd = 8, .n_head = 2, .vocab = 5, .max_pos = 4 };
    static float z[8 * 32];
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++)
        z[i] = 0.01f * (float)(i % 13) + 0.001f;
    struct st_writer wr = { 0 };
    st_add(&wr, "transformer.wte.weight", z, 5, 8);
    st_add(&wr, "transformer.wpe.weight", z, 4, 8);
    st_add(&wr, "transformer.ln_f.weight", z, 8, 0);
    st_add(&wr, "transformer.ln_f.bias", z, 8, 0);
    st_add(&wr, "transformer.h.0.ln_1.weight", z, 8, 0);
    st_add(&wr, "transformer.h.0.ln_1.bias", z, 8, 0);
    st_add(&wr, "transformer.h.0.attn.c_attn.weight", z, 8, 24);
    st_add(&wr, "transformer.h.0.attn.c_attn.bias", z, 24, 0);
    st_add(&wr, "transformer.h.0.attn.c_proj.weight", z, 8, 8);
    st_add(&wr, "transformer.h.0.attn.c_proj.bias", z, 8, 0);
    st_add(&wr, "transformer.h.0.ln_2.weight", z, 8, 0);
    st_add(&wr, "transformer.h.0.ln_2.bias", z, 8, 0);
    st_add(&wr, "transformer.h.0.mlp.c_fc.weight", z, 8, 32);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    save_corpus("missing_tensor", b, len);
    struct gpt2_st_file f;
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_safetensors_parse(b, len, &f, &err), AB_OK);
    assert_int_equal(gpt2_params_alloc(&p, &cfg, &err), AB_OK);
    assert_int_equal(gpt2_params_from_safetensors(&p, &f, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "tensor transformer.h.0.mlp.c_fc.bias missing"));
    /* a shape that disagrees with config.json names tensor and both shapes */
    cfg.n_embd = 4, cfg.n_head = 1;
    gpt2_params_free(&p);
    assert_int_equal(gpt2_params_alloc(&p, &cfg, &err), AB_OK);
    assert_int_equal(gpt2_params_from_safetensors(&p, &f, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "transformer.wte.weight has shape [5, 8], expected [5, 4]"));
    gpt2_params_free(&p);
    gpt2_safetensors_free(&f);
    free(b);
}

static void every_truncation_of_a_valid_file_fails_cleanly(void **state)
{
    float v[6] = { 1, 2, 3, 4, 5, 6 };
    struct st_writer wr = { 0 };
    st_add(&wr, "a", v, 2, 3);
    st_add(&wr, "b", v, 6, 0);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1); /* exact size, so a read past it is caught by ASan */
        memcpy(c, b, cut);
        struct gpt2_st_file f;
        struct ab_error err = { { 0 } };
        if (gpt2_safetensors_parse(c, cut, &f, &err) != AB_EINVAL)
            fail_msg("truncated to %zu of %zu bytes: accepted", cut, len);
        assert_true(err.msg[0] != '\0');
        if (cut == len - 4)
            save_corpus("truncated_data", c, cut);
        free(c);
    }
    free(b);
}

static void config_json_needs_every_field(void **state)
{
    struct gpt2_config c;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_config_parse_json("{\"n_layer\":2,\"n_embd\":64,\"n_head\":4,\"vocab_size\":97,"
                                            "\"n_positions\":32}",
                                            &c, &err),
                     AB_OK);
    assert_int_equal(c.n_embd, 64);
    assert_int_equal(gpt2_config_parse_json(
                         "{\"n_layer\":2,\"n_embd\":64,\"vocab_size\":97,\"n_positions\":32}", &c, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "n_head"));
    assert_int_equal(gpt2_config_parse_json("[]", &c, &err), AB_EINVAL);
    assert_int_equal(gpt2_config_parse_json("{\"n_layer\":2,\"n_embd\":64,\"n_head\":5,\"vocab_size\":97,"
                                            "\"n_positions\":32}",
                                            &c, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "not a multiple"));
}

/* A config.json crafted to wrap size_t in the parameter count (each field alone accepted), and
 * one that merely claims more parameters than its file holds: refused before any allocation. */
static void crafted_config_sizes_are_refused_before_allocation(void **state)
{
    struct gpt2_config c = {
        .n_layer = 3843, .n_embd = 9999999, .n_head = 1, .vocab = 1, .max_pos = 8644114
    };
    assert_true(gpt2_param_count(&c) == SIZE_MAX);
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_alloc(&p, &c, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "does not fit"));
    char *dir = test_tmpdir();
    assert_non_null(dir);
    char path[4200];
    static const char *const configs[] = {
        "{\"n_layer\":3843,\"n_embd\":9999999,\"n_head\":1,\"vocab_size\":1,\"n_positions\":8644114}",
        "{\"n_layer\":12,\"n_embd\":768,\"n_head\":12,\"vocab_size\":50257,\"n_positions\":1024}",
    };
    float v[6] = { 1, 2, 3, 4, 5, 6 };
    struct st_writer wr = { 0 };
    st_add(&wr, "transformer.wte.weight", v, 2, 3);
    size_t len;
    uint8_t *b = st_serialize(&wr, &len);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(configs[i], f);
        fclose(f);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        assert_int_equal(gpt2_params_load(&p, path, &err), AB_EINVAL);
        assert_non_null(strstr(err.msg, "parameters, more than the"));
    }
    /* a folder as the weights path is read as its model.safetensors: the same refusal */
    assert_int_equal(gpt2_params_load(&p, dir, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "/model.safetensors: config.json describes"));
    free(b);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_f32_bf16_and_f16_as_fp32),
        cmocka_unit_test(transposes_input_major_weights),
        cmocka_unit_test(bad_header_lengths_are_rejected),
        cmocka_unit_test(header_must_be_a_json_object),
        cmocka_unit_test(offsets_past_the_end_are_truncation),
        cmocka_unit_test(wrong_dtype_or_size_is_rejected),
        cmocka_unit_test(tensors_of_unread_dtypes_do_not_reject_the_file),
        cmocka_unit_test(wrong_shape_and_missing_tensor_name_the_tensor),
        cmocka_unit_test(non_finite_weights_are_rejected),
        cmocka_unit_test(model_loader_names_the_missing_tensor),
        cmocka_unit_test(every_truncation_of_a_valid_file_fails_cleanly),
        cmocka_unit_test(config_json_needs_every_field),
        cmocka_unit_test(crafted_config_sizes_are_refused_before_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
