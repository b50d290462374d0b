/* options.h — the one table of options and limits (as redis's config table): flag, environment variable,
 * default, range, what happens over a limit, help. `serve` parses its flags and variables with it and prints its
 * --help from it; the job limits (`sr_limits`, used by `run` and `serve` alike) take their defaults from it; a
 * test checks docs/service.md against it (`scorerecon serve --help-table`). */
#ifndef SR_OPTIONS_H
#define SR_OPTIONS_H
#include <stdio.h>

#include "config.h"

typedef enum { SR_OPT_LISTEN, SR_OPT_STR, SR_OPT_TOKEN, SR_OPT_INT, SR_OPT_UINT, SR_OPT_LONG, SR_OPT_SIZE,
               SR_OPT_DOUBLE, SR_OPT_ROLE } sr_opt_kind;

typedef struct {
  const char *flag, *arg, *env;
  sr_opt_kind kind;
  int in_limits;           /* 1: offset is into sr_limits (a job limit, also `run`'s), 0: into sr_server_config */
  size_t offset;
  const char *def;         /* the default, as a flag would give it (NULL: none) */
  const char *run_def;     /* `run`'s default where it differs (NULL: the same) */
  double lo, hi;           /* range of numbers */
  const char *over;        /* what a job or request over this limit gets (NULL: not a limit) */
  const char *help;
} sr_option;

const sr_option *sr_options(size_t *n);
/* Sets option o of cfg from text v (a flag's value or a variable's); on error returns -1 with err naming the
 * flag and the range. */
int sr_option_set(sr_server_config *cfg, const sr_option *o, const char *v, char *err, size_t cap);
/* Every option at its default. */
void sr_server_config_default(sr_server_config *cfg);
/* serve --help, and the Markdown rows of docs/service.md's option table (flag, variable, default, range). */
void sr_options_usage(FILE *f);
void sr_options_table(FILE *f);
#endif
