/* cmd_info.c — `accelbench info [--json]`: host, devices with their facts, the meter each
 * would use, PAPI components, and the profile that gives nominal power and price. */
#include "cli.h"
#include "config.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int ab_cmd_info(int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h':
            printf("usage: accelbench info [--json]\n\nDescribes this machine: host, devices (name, cores or "
                   "SMs,\n"
                   "memory, clocks, driver and runtime), the power meter each would use, PAPI\n"
                   "components, and the matching device profile.\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        ab_cli_error("info: unexpected argument \"%s\"", argv[optind]);
        return 2;
    }
    struct ab_sysinfo sys;
    ab_sysinfo_collect(&sys);
    struct ab_device devs[AB_MAX_DEVICES];
    struct ab_error why[AB_BACKEND_COUNT], err;
    int n = 0;
    ab_devices_discover(devs, AB_MAX_DEVICES, &n, why, NULL);
    struct ab_profile *profiles = NULL;
    int np = 0;
    if (ab_profiles_load(NULL, &profiles, &np, &err) != AB_OK) {
        ab_cli_error("info: %s", err.msg);
        return 2;
    }
    char meters[AB_MAX_DEVICES][48];
    for (int i = 0; i < n; i++) {
        devs[i].profile = ab_profile_match(profiles, np, &devs[i]);
        struct ab_meter *m = NULL;
        ab_meter_open(&devs[i], &m, &err);
        snprintf(meters[i], sizeof meters[i], "%s", ab_meter_source(m));
        ab_meter_close(m);
    }
    char counters[1024];
    ab_counters_describe(counters, sizeof counters);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "version", sys.version);
        cJSON_AddStringToObject(o, "git_commit", sys.git_commit);
        cJSON_AddStringToObject(o, "build", sys.build);
        cJSON *h = cJSON_AddObjectToObject(o, "host");
        cJSON_AddStringToObject(h, "name", sys.host);
        cJSON_AddStringToObject(h, "os", sys.os);
        cJSON_AddStringToObject(h, "kernel", sys.kernel);
        cJSON_AddStringToObject(h, "cpu_model", sys.cpu_model);
        cJSON_AddStringToObject(h, "cpu_flags", sys.cpu_flags);
        cJSON_AddNumberToObject(h, "cpu_cores_online", sys.cpu_cores_online);
        cJSON_AddNumberToObject(h, "mem_bytes", (double)sys.mem_bytes);
        cJSON *arr = cJSON_AddArrayToObject(o, "devices");
        for (int i = 0; i < n; i++) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "id", devs[i].id);
            cJSON_AddStringToObject(d, "name", devs[i].name);
            cJSON_AddStringToObject(d, "backend", ab_backend_name(devs[i].backend));
            cJSON_AddNumberToObject(d, "compute_units", devs[i].compute_units);
            cJSON_AddNumberToObject(d, "threads", devs[i].threads);
            cJSON_AddNumberToObject(d, "mem_bytes", (double)devs[i].mem_bytes);
            cJSON_AddNumberToObject(d, "clock_mhz", devs[i].clock_mhz);
            cJSON_AddStringToObject(d, "driver", devs[i].driver);
            cJSON_AddStringToObject(d, "runtime", devs[i].runtime);
            cJSON_AddStringToObject(d, "features", devs[i].features);
            cJSON_AddStringToObject(d, "power_source", meters[i]);
            cJSON_AddStringToObject(d, "profile", devs[i].profile ? devs[i].profile->name : "");
            cJSON_AddItemToArray(arr, d);
        }
        cJSON *sk = cJSON_AddObjectToObject(o, "backends_without_devices");
        for (int k = 0; k < AB_BACKEND_COUNT; k++)
            if (why[k].msg[0])
                cJSON_AddStringToObject(sk, ab_backend_name((enum ab_backend_kind)k), why[k].msg);
        cJSON_AddStringToObject(o, "papi", counters);
        char *text = cJSON_Print(o);
        if (text)
            puts(text);
        free(text);
        cJSON_Delete(o);
    } else {
        printf("accelbench %s (git %s)\nbuild:  %s\nhost:   %s — %s, %s\ncpu:    %s (%d cores online; %s)\n"
               "memory: %.1f GiB\n\n",
               sys.version, sys.git_commit, sys.build, sys.host, sys.os, sys.kernel, sys.cpu_model,
               sys.cpu_cores_online, sys.cpu_flags, sys.mem_bytes / 1073741824.0);
        for (int i = 0; i < n; i++) {
            const struct ab_device *d = &devs[i];
            printf("%-8s %s\n", d->id, d->name);
            const struct ab_backend *b = ab_backend_get(d->backend);
            char lines[1024] = "";
            if (b && b->describe)
                b->describe(d, lines, sizeof lines);
            fputs(lines, stdout);
            printf("         power source: %s; profile: %s\n", meters[i],
                   d->profile ? d->profile->name : "(none)");
        }
        for (int k = 0; k < AB_BACKEND_COUNT; k++)
            if (why[k].msg[0])
                printf("%-8s skipped: %s\n", ab_backend_name((enum ab_backend_kind)k), why[k].msg);
        printf("\nPAPI:\n%s\n\nCeilings are measured by `accelbench run -w ceilings`.\n", counters);
    }
    free(profiles);
    return 0;
}
