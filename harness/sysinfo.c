/* sysinfo.c — host metadata for run.json and `accelbench info`: who ran what, where, built how. */
#include "accelbench.h"
#include "ab_version.h"
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void first_match(const char *path, const char *key, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    size_t kl = strlen(key);
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *v = line + kl;
        while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=' || *v == '"')
            v++;
        v[strcspn(v, "\"\n")] = '\0';
        snprintf(out, len, "%s", v);
        break;
    }
    free(line);
    fclose(f);
}

void ab_sysinfo_collect(struct ab_sysinfo *s)
{
    memset(s, 0, sizeof *s);
    if (gethostname(s->host, sizeof s->host) != 0)
        snprintf(s->host, sizeof s->host, "unknown");
    s->host[sizeof s->host - 1] = '\0';
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(s->kernel, sizeof s->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    first_match("/etc/os-release", "PRETTY_NAME", s->os, sizeof s->os);
    first_match("/proc/cpuinfo", "model name", s->cpu_model, sizeof s->cpu_model);
    ab_cpu_features(s->cpu_flags, sizeof s->cpu_flags);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    s->cpu_cores_online = n > 0 ? (int)n : 0;
    s->load_avg_1m = NAN;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        double l;
        if (fscanf(lf, "%lf", &l) == 1)
            s->load_avg_1m = l;
        fclose(lf);
    }
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        s->mem_bytes = (uint64_t)pages * (uint64_t)psz;
    snprintf(s->compiler, sizeof s->compiler, "%s", AB_COMPILER);
    snprintf(s->git_commit, sizeof s->git_commit, "%s", AB_GIT_COMMIT);
    snprintf(s->version, sizeof s->version, "%s", AB_VERSION);
    snprintf(s->build, sizeof s->build, "%s", AB_BUILD_DESC);
}
