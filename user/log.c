/* log.c -- logging state shared by every subcommand. */
#include "log.h"

int pf_verbose;
