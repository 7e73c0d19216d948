/* main.c — `accelbench`: dispatch to a subcommand. Before any file is opened, descriptors 0-2
 * are made valid (a closed stderr would otherwise become results.csv's descriptor and progress
 * lines would land in it); after the command, a report lost on a full or closed stdout is an
 * error (exit 2), and a reader that went away (EPIPE) is a clean stop. */
#include "cli.h"
#include "ab_version.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void open_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* open() returns the lowest free descriptor: this one. */
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd >= 0 && nfd != fd)
            close(nfd);
    }
}

/* Is stdout a pipe whose reader has gone (`accelbench list | head`)? The EPIPE of the failed
 * write may be long gone from errno by the time the output is checked; poll says so still. */
static bool reader_gone(void)
{
    struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/* Flush and close stdout: a lost report must not look like success. */
static int finish_stdout(int rc)
{
    errno = 0;
    bool bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    bool gone = bad && reader_gone();
    if (fclose(stdout) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (!bad || e == EPIPE || gone)
        return rc;
    ab_cli_error("writing standard output failed: %s", e ? strerror(e) : "I/O error");
    return 2;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    open_standard_fds();
    /* A closed pipe is an EPIPE from write(), handled where the output is checked. */
    signal(SIGPIPE, SIG_IGN);
    return finish_stdout(dispatch(argc, argv));
}

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
    { "merge", ab_cmd_merge, "join the rank folders of a run under srun or mpirun into one" },
    { "export", ab_cmd_export, "tidy typed tables (wide or long, CSV or JSON) of result files" },
    { "offload", ab_cmd_offload, "would attention offloading pay: link, attention and dense times" },
};
#define NCMD (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: accelbench COMMAND [OPTIONS]\n\n"
               "Characterizes AI accelerators with standardized microbenchmarks and writes\n"
               "power-normalized metrics to CSV and JSON.\n\ncommands:\n");
    for (size_t i = 0; i < NCMD; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`accelbench COMMAND --help` describes each; --version prints the version.\n"
               "\nenvironment:\n"
               "  ACCELBENCH_DATA      folder holding the device profiles (profiles/*.json); default:\n"
               "                       the installed share/accelbench beside the binary's folder, or the\n"
               "                       source tree for a binary in its build folder\n"
               "  NO_COLOR             no colour in compare's text\n");
}

static int dispatch(int argc, char **argv)
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
