/* webhooks.h — the completion webhook ("notify": {"url": ...}): a finished job is POSTed, signed, to its URL. */
#ifndef SR_WEBHOOKS_H
#define SR_WEBHOOKS_H
#include "ctx.h"

/* Whether url's host (and port) is on --webhook-allow; why (for the 422) when not. */
int sr_webhook_allowed(const sr_server_config *cfg, const char *url, char *why, size_t cap);
/* The sender thread: starts, is woken on status changes, and stops with the server (a delivery in flight is
 * abandoned and stays pending for the next start). */
int sr_webhooks_start(sr_server *srv);
void sr_webhooks_wake(sr_server *srv);
void sr_webhooks_stop(sr_server *srv);
#endif
