/* main.c — placeholder entry point of the skeleton. */
#include "accelbench.h"
#include "config.h"
int main(void) { puts("accelbench " AB_VERSION); return 0; }
