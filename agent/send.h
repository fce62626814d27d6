/* send.h - the LwM2M Send operation (POST /dp, SenML CBOR) with a bounded
 * store-and-forward queue on disk: data read while the server cannot be
 * reached is kept under the state folder, survives restarts and reboots, and
 * goes out in order once the registration is back. */
#ifndef LWM_SEND_H
#define LWM_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"

struct agent;
struct sendq;

/* Loads the queue from the state folder and arms the [send.*] schedules. */
struct sendq *send_new(struct agent *ag);
void send_free(struct sendq *q);
/* Re-reads the [send.*] schedules after a config reload. */
void send_reconfigure(struct sendq *q);
/* Reads paths now and sends them; queued when not registered.  Returns 0,
 * LWM_ENOTALLOWED when the server muted Send (1/0/23), LWM_ENOTFOUND when no
 * path could be read, or another LWM_E* with the reason in err. */
int send_paths(struct sendq *q, const struct dm_path *paths, size_t n, struct errbuf *err);
/* Keeps a notification that could not be sent (Notification Storing). */
int send_store_notification(struct sendq *q, const uint8_t *token, size_t toklen, uint32_t seq,
			    int format, const uint8_t *payload, size_t len);
/* The registration is up (again): deliver what waits, oldest first. */
void send_flush(struct sendq *q);
size_t send_queued(const struct sendq *q);
uint64_t send_dropped(const struct sendq *q);

#endif
