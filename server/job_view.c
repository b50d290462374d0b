/* job_view.c — a job as the API shows it: its row (status, times, progress, attempts, error, labels, links) as
 * JSON, with live progress for a job running here. Used by the HTTP handlers and the event streams. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "job_view.h"

static void rfc3339(double t, char *out, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  int ms = (int)((t - (double)s) * 1000);
  if (ms < 0) ms = 0;
  if (ms > 999) ms = 999;
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n && n + 6 <= cap) snprintf(out + n, cap - n, ".%03dZ", ms % 1000);
}

static void add_time(cJSON *o, const char *k, double t) {
  if (t > 0) {
    char b[64];
    rfc3339(t, b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
  } else {
    cJSON_AddNullToObject(o, k);
  }
}

int sr_job_terminal(const char *status) {
  return !strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "cancelled");
}

cJSON *sr_job_view(sr_server *srv, const sr_job_row *row) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", row->id);
  cJSON_AddStringToObject(o, "status", row->status);
  add_time(o, "created", row->created);
  add_time(o, "started", row->started);
  add_time(o, "finished", row->finished);
  long step = row->step, total = row->total;
  if (!strcmp(row->status, "running")) sr_jobs_progress(srv, row->id, &step, &total);
  cJSON *p = cJSON_AddObjectToObject(o, "progress");
  cJSON_AddNumberToObject(p, "step", (double)step);
  cJSON_AddNumberToObject(p, "total", (double)total);
  cJSON_AddNumberToObject(p, "fraction", total > 0 ? (double)step / (double)total : 0.0);
  cJSON_AddNumberToObject(o, "attempts", row->attempts);
  cJSON *labels = cJSON_Parse(row->labels);
  cJSON_AddItemToObject(o, "labels", labels ? labels : cJSON_CreateObject());
  if (row->error[0]) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "detail", row->error);
    if (row->error_field[0]) cJSON_AddStringToObject(e, "field", row->error_field);
  }
  if (row->notify_url[0]) {
    static const char *const states[] = {"none", "pending", "delivered", "failed"};
    cJSON *n = cJSON_AddObjectToObject(o, "notify");
    cJSON_AddStringToObject(n, "url", row->notify_url);
    cJSON_AddStringToObject(n, "state", states[row->notify_state >= 0 && row->notify_state < 4 ? row->notify_state : 0]);
    cJSON_AddNumberToObject(n, "attempts", row->notify_attempts);
  }
  cJSON *l = cJSON_AddObjectToObject(o, "links");
  char b[128];
  snprintf(b, sizeof b, "/v1/jobs/%s", row->id);
  cJSON_AddStringToObject(l, "self", b);
  snprintf(b, sizeof b, "/v1/jobs/%s/result", row->id);
  cJSON_AddStringToObject(l, "result", b);
  snprintf(b, sizeof b, "/v1/jobs/%s/job", row->id);
  cJSON_AddStringToObject(l, "job", b);
  return o;
}

