/* main.c — `accelbench`: dispatch to a subcommand. */
#include "cli.h"
#include "config.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    { "list", ab_cmd_list, "workloads, their axes and defaults, backends compiled in" },
    { "info", ab_cmd_info, "devices, ceilings, meters and counters available here" },
    { "run", ab_cmd_run, "run workloads on devices and write results" },
    { "compare", ab_cmd_compare, "compare two result sets: per-case verdicts for CI" },
    { "plot", ab_cmd_plot, "draw charts from result files" },
};
#define NCMD (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: accelbench COMMAND [OPTIONS]\n\n"
               "Characterizes AI accelerators with standardized microbenchmarks and writes\n"
               "power-normalized metrics to CSV and JSON.\n\ncommands:\n");
    for (size_t i = 0; i < NCMD; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`accelbench COMMAND --help` describes each; --version prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("accelbench %s (git %s; %s; results schema %d)\n", AB_VERSION, AB_GIT_COMMIT, AB_BUILD_DESC,
               AB_SCHEMA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCMD; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    char valid[256] = "";
    for (size_t i = 0; i < NCMD; i++) {
        size_t l = strlen(valid);
        snprintf(valid + l, sizeof valid - l, "%s%s", i ? ", " : "", commands[i].name);
    }
    ab_cli_error("unknown command \"%s\" (valid: %s)", argv[1], valid);
    return 2;
}
