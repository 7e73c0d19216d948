/* cmd_plot_none.c — `accelbench plot` in a build without cairo. */
#include "cli.h"

int ab_cmd_plot(int argc, char **argv)
{
    ab_cli_error("plot: this build has no cairo (configure with -Dplots=enabled after installing "
                 "libcairo2-dev and libpango1.0-dev); draw the charts from the CSV on another machine");
    return 2;
}
