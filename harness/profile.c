/* profile.c — device profiles: nominal power (for labelled estimates), price per hour and
 * datasheet peaks, one JSON file per device family in results/profiles/. A profile is
 * chosen by the longest `match` substring found in the device's name. An installed binary finds
 * them under its datadir (relative to itself, so a moved prefix still works); one in its build
 * folder, in the source tree. */
#include "accelbench.h"
#include "config.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ab_status get_string(const cJSON *o, const char *key, char *out, size_t len, bool required,
                            const char *origin, struct ab_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return ab_fail(err, AB_EINVAL, "%s: field \"%s\" is missing", origin, key);
        return AB_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return ab_fail(err, AB_EINVAL, "%s: field \"%s\" must be a string", origin, key);
    if (strlen(v->valuestring) >= len)
        return ab_fail(err, AB_EINVAL, "%s: field \"%s\" is longer than %zu characters", origin, key,
                       len - 1);
    snprintf(out, len, "%s", v->valuestring);
    return AB_OK;
}

static ab_status get_number(const cJSON *o, const char *key, double *out, bool required, const char *origin,
                            struct ab_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return ab_fail(err, AB_EINVAL, "%s: field \"%s\" is missing", origin, key);
        return AB_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return ab_fail(err, AB_EINVAL, "%s: field \"%s\" must be a non-negative number", origin, key);
    *out = v->valuedouble;
    return AB_OK;
}

ab_status ab_profile_parse(const char *json, const char *origin, struct ab_profile *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = json; at && p < at && *p; p++)
            line += *p == '\n';
        return ab_fail(err, AB_EINVAL, "%s:%d: not valid JSON", origin, line);
    }
    ab_status st = AB_OK;
    if (!cJSON_IsObject(root)) {
        st = ab_fail(err, AB_EINVAL, "%s: a profile must be a JSON object", origin);
        goto done;
    }
    if ((st = get_string(root, "name", out->name, sizeof out->name, true, origin, err)) ||
        (st = get_string(root, "match", out->match, sizeof out->match, true, origin, err)) ||
        (st = get_string(root, "backend", out->backend, sizeof out->backend, true, origin, err)) ||
        (st = get_number(root, "tdp_w", &out->tdp_w, true, origin, err)) ||
        (st = get_number(root, "usd_per_hour", &out->usd_per_hour, false, origin, err)))
        goto done;
    bool known = false;
    char names[128] = "";
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        const char *bn = ab_backend_name((enum ab_backend_kind)k);
        size_t l = strlen(names);
        known |= strcmp(out->backend, bn) == 0;
        snprintf(names + l, sizeof names - l, "%s\"%s\"",
                 k == 0                      ? ""
                 : k == AB_BACKEND_COUNT - 1 ? " or "
                                             : ", ",
                 bn);
    }
    if (!known) {
        st = ab_fail(err, AB_EINVAL, "%s: field \"backend\" must be %s", origin, names);
        goto done;
    }
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "per_core");
    if (pc && !cJSON_IsBool(pc)) {
        st = ab_fail(err, AB_EINVAL, "%s: field \"per_core\" must be true or false", origin);
        goto done;
    }
    out->per_core = cJSON_IsTrue(pc);
    const cJSON *peaks = cJSON_GetObjectItemCaseSensitive(root, "peak_tflops");
    if (peaks) {
        if (!cJSON_IsObject(peaks)) {
            st = ab_fail(err, AB_EINVAL, "%s: field \"peak_tflops\" must be an object", origin);
            goto done;
        }
        static const char *const keys[6] = { "fp32", "tf32", "bf16", "fp16", "fp8", "int8" };
        for (int i = 0; i < 6; i++) {
            double t = 0;
            if ((st = get_number(peaks, keys[i], &t, false, origin, err)))
                goto done;
            out->peak_flops[i] = t * 1e12;
        }
    }
    double gbs = 0;
    if ((st = get_number(root, "peak_mem_gbps", &gbs, false, origin, err)))
        goto done;
    out->peak_mem_bw = gbs * 1e9;
    double units = 0;
    if ((st = get_number(root, "max_clock_mhz", &out->max_clock_mhz, false, origin, err)) ||
        (st = get_number(root, "fma_units", &units, false, origin, err)))
        goto done;
    if (units != floor(units) || units > 8) {
        st = ab_fail(err, AB_EINVAL, "%s: field \"fma_units\" must be a whole number from 0 to 8", origin);
        goto done;
    }
    out->fma_units = (int)units;
done:
    cJSON_Delete(root);
    return st;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is path (absolute, free of links) inside folder? By name first; the folder is resolved only
 * when asked (resolve), so an installed binary never looks at its old build folder. */
static bool inside(const char *path, const char *folder, bool resolve)
{
    size_t l = strlen(folder);
    if (strncmp(path, folder, l) == 0 && path[l] == '/')
        return true;
    char *rf = resolve ? realpath(folder, NULL) : NULL;
    l = rf ? strlen(rf) : 0;
    bool in = rf && strncmp(path, rf, l) == 0 && path[l] == '/';
    free(rf);
    return in;
}

/* The default profile folder: $ACCELBENCH_PROFILES, $ACCELBENCH_DATA/profiles, the source tree
 * when this binary lies in its build folder, DATADIR relative to the binary, the configured
 * DATADIR. Writes the folder (or, when none exists, what was tried) to buf. */
static bool default_profile_dir(char *buf, size_t len)
{
    static const char bin_to_data[] = AB_BIN_TO_DATA; /* empty: bindir or datadir absolute */
    const char *e = getenv("ACCELBENCH_PROFILES");
    if (e && *e) {
        snprintf(buf, len, "%s", e);
        return true;
    }
    e = getenv("ACCELBENCH_DATA");
    if (e && *e) {
        snprintf(buf, len, "%s/profiles", e);
        return true;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (n > 0 && inside(exe, AB_BUILD_DIR, false)) {
        snprintf(buf, len, "%s", AB_SOURCE_DIR "/results/profiles");
        return true;
    }
    char rel[4200] = "";
    char *slash = strrchr(exe, '/');
    if (n > 0 && slash && bin_to_data[0]) {
        *slash = 0;
        snprintf(rel, sizeof rel, "%s/%s/profiles", exe, bin_to_data);
        if (is_dir(rel)) {
            snprintf(buf, len, "%s", rel);
            return true;
        }
        *slash = '/';
    }
    if (n > 0 && inside(exe, AB_BUILD_DIR, true)) { /* a build folder reached through a link */
        snprintf(buf, len, "%s", AB_SOURCE_DIR "/results/profiles");
        return true;
    }
    if (is_dir(AB_DATADIR "/profiles")) {
        snprintf(buf, len, "%s", AB_DATADIR "/profiles");
        return true;
    }
    snprintf(buf, len,
             "no device profile folder: tried %s%s%s; set ACCELBENCH_DATA to the folder that holds profiles/",
             rel, rel[0] ? " and " : "", AB_DATADIR "/profiles");
    return false;
}

ab_status ab_profiles_load(const char *dir, struct ab_profile **out, int *n, struct ab_error *err)
{
    *out = NULL;
    *n = 0;
    char found[4200];
    if (!dir) {
        if (!default_profile_dir(found, sizeof found))
            return ab_fail(err, AB_EIO, "%s", found);
        dir = found;
    }
    DIR *d = opendir(dir);
    if (!d)
        return ab_fail(err, AB_EIO, "%s: cannot open profile directory", dir);
    struct ab_profile *ps = NULL;
    int cap = 0;
    ab_status st = AB_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text;
        if ((st = ab_read_file(path, &text, NULL, err)))
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct ab_profile *np = realloc(ps, (size_t)cap * sizeof *np);
            if (!np) {
                free(text);
                st = ab_fail(err, AB_ENOMEM, "out of memory");
                break;
            }
            ps = np;
        }
        st = ab_profile_parse(text, path, &ps[*n], err);
        free(text);
        if (st)
            break;
        (*n)++;
    }
    closedir(d);
    if (st) {
        free(ps);
        *n = 0;
        return st;
    }
    *out = ps;
    return AB_OK;
}

const struct ab_profile *ab_profile_match(const struct ab_profile *ps, int n, const struct ab_device *dev)
{
    const struct ab_profile *best = NULL;
    size_t best_len = 0;
    const char *backend = ab_backend_name(dev->backend);
    for (int i = 0; i < n; i++) {
        if (strcmp(ps[i].backend, backend) != 0)
            continue;
        size_t l = strlen(ps[i].match);
        /* An empty match is the backend's generic fallback: it loses to any real match. */
        if ((l == 0 || strstr(dev->name, ps[i].match)) && (!best || l > best_len)) {
            best = &ps[i];
            best_len = l;
        }
    }
    return best;
}

/* The slot of peak_flops a ceiling's data type reads (fp8_fast: fp8), or -1. */
static int peak_slot(const char *ceiling)
{
    static const char *const keys[6] = { "fp32", "tf32", "bf16", "fp16", "fp8", "int8" };
    for (int i = 0; i < 6; i++) {
        size_t l = strlen(keys[i]);
        if (strncmp(ceiling, keys[i], l) == 0 && (ceiling[l] == '_'))
            return i;
    }
    return -1;
}

double ab_device_peak(const struct ab_device *dev, const char *ceiling, char *how, size_t len)
{
    const struct ab_profile *p = dev->profile;
    if (how && len)
        how[0] = '\0';
    if (strcmp(ceiling, "mem_bw") == 0) {
        if (p && p->peak_mem_bw > 0) {
            if (how)
                snprintf(how, len, "profile %s's %.0f GB/s", p->name, p->peak_mem_bw / 1e9);
            return p->peak_mem_bw;
        }
        return 0;
    }
    int slot = peak_slot(ceiling);
    if (slot < 0)
        return 0; /* llc_bw and anything else without a datasheet figure */
    if (p && p->peak_flops[slot] > 0) {
        if (how)
            snprintf(how, len, "profile %s's %.1f TFLOP/s", p->name, p->peak_flops[slot] / 1e12);
        return p->peak_flops[slot];
    }
    if (dev->backend != AB_BACKEND_CPU || dev->compute_units < 1)
        return 0;
    /* /proc/cpuinfo's clock is the base or the current one: without a profile's boost clock,
     * allow 1.5x for turbo so that a healthy measurement is never above the peak. */
    bool boost = p && p->max_clock_mhz > 0;
    double mhz = boost ? p->max_clock_mhz : dev->clock_mhz * 1.5;
    if (!(mhz > 0))
        return 0;
    int units = p && p->fma_units > 0 ? p->fma_units : 2;
    bool avx512 = strstr(dev->features, "avx512f") != NULL;
    int lanes = avx512 ? 16 : strstr(dev->features, "avx2") ? 8 : 4;
    double per_cycle = units * lanes * 2.0; /* an FMA is 2 FLOPs per lane */
    const char *what = avx512 ? "AVX-512" : lanes == 8 ? "AVX2" : "SSE";
    if (slot == 2 && strstr(dev->features, "amx_bf16")) {
        per_cycle = 1024; /* TDPBF16PS: 16x32x16 multiply-adds per 16 cycles per core */
        what = "AMX-BF16";
    } else if (slot == 2 && strstr(dev->features, "avx512_bf16")) {
        per_cycle = units * 16 * 4.0; /* VDPBF16PS: a 2-element dot per lane */
        what = "AVX-512 BF16";
    } else if (slot != 0 && slot != 2) {
        return 0; /* no CPU unit of tf32, fp16, fp8 or int8 that this suite measures */
    }
    if (how)
        snprintf(how, len, "%d threads x %.0f MHz%s x %.0f FLOP/cycle (%s, %d FMA pipes)", dev->compute_units,
                 mhz, boost ? "" : " (1.5 x cpuinfo, for turbo)", per_cycle, what, units);
    return dev->compute_units * mhz * 1e6 * per_cycle;
}
