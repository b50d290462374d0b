/* job_view.h — a job as the API shows it (the Job schema of openapi.yaml). */
#ifndef SR_JOB_VIEW_H
#define SR_JOB_VIEW_H
#include <cjson/cJSON.h>

#include "ctx.h"

/* The Job object of a row (a new tree, the caller frees it); progress is live for a job running here. */
cJSON *sr_job_view(sr_server *srv, const sr_job_row *row);
/* 1 for succeeded, failed and cancelled. */
int sr_job_terminal(const char *status);
#endif
