/* events.h — GET /v1/jobs/{id}/events: a job's status and progress pushed as Server-Sent Events. */
#ifndef SR_EVENTS_H
#define SR_EVENTS_H
#include "ctx.h"

struct MHD_Response;
struct MHD_Connection;

/* A new event stream for job id (which exists), to be queued on connection c at once. last_event_id: the client's Last-Event-ID header (NULL: none); the
 * state it names is not sent again. Returns the response to queue (200 text/event-stream), or NULL when
 * --max-event-streams streams are open already (*too_many set) or memory ran out. */
struct MHD_Response *sr_events_open(sr_server *srv, struct MHD_Connection *c, const char *id,
                                    const char *last_event_id, int *too_many);
/* Lets the streams of job id (NULL: every stream) look at their job again: called on every status change, by the
 * janitor for progress (every 0.5 s), and when stopping (the streams then end). */
void sr_events_wake(sr_server *srv, const char *id);
#endif
