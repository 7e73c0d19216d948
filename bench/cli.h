/* cli.h — the subcommands of `accelbench` and the little they share. Each returns the
 * process exit status: 0 success, 1 a finding (compare: a regression), 2 bad input,
 * 130 interrupted. Only bench/ decides exit codes and prints. */
#ifndef AB_CLI_H
#define AB_CLI_H

#include "accelbench.h"

int ab_cmd_list(int argc, char **argv);
int ab_cmd_info(int argc, char **argv);
int ab_cmd_run(int argc, char **argv);
int ab_cmd_plot(int argc, char **argv);
int ab_cmd_compare(int argc, char **argv);
int ab_cmd_merge(int argc, char **argv);
int ab_cmd_export(int argc, char **argv);
int ab_cmd_offload(int argc, char **argv);

/* Print "accelbench: <msg>" on stderr. */
void ab_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a non-negative number for option `opt`; false (after printing) if it is not one. */
bool ab_cli_number(const char *opt, const char *text, double *out);
/* Join argv into one line (for run.json's command_line). */
void ab_cli_join(int argc, char **argv, char *buf, size_t len);

#endif
