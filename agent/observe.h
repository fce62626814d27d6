/* observe.h - Observe and Observe-Composite: who watches what, and when a
 * notification goes out (pmin, pmax, gt/lt/st, epmin/epmax). */
#ifndef LWM_OBSERVE_H
#define LWM_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"

struct agent;
struct obs_mgr;

/* observations at once unless [server] max_observations says otherwise */
#define OBS_DEFAULT_MAX 256
#define OBS_MAX_PATHS 16

struct obs_mgr *obs_new(struct agent *ag);
void obs_free(struct obs_mgr *m);
/* A Read (n == 1, composite false) or Read-Composite of paths with Observe=0
 * was answered with 2.05 in format: start notifying under token.  A second
 * observation with the same token replaces the first.  Returns 0 and the
 * Observe sequence number for the response, or LWM_EINTERNAL when full. */
int obs_start(struct obs_mgr *m, const uint8_t *token, size_t toklen, const struct dm_path *paths,
	      size_t n, bool composite, int format, uint32_t *seq);
/* Stops the observation under token (Observe=1, a Reset, no ACK); why is
 * logged.  Unknown tokens are ignored. */
void obs_cancel(struct obs_mgr *m, const uint8_t *token, size_t toklen, const char *why);
/* Stops every observation (a new registration starts afresh). */
void obs_cancel_all(struct obs_mgr *m, const char *why);
/* A value at or under path changed (a write, a new sample, an instance that
 * came or went): observers of overlapping paths are evaluated. */
void obs_changed(struct obs_mgr *m, const struct dm_path *path);
size_t obs_count(const struct obs_mgr *m);
/* Takes up the observations a previous run kept (call only when its
 * registration was resumed); obs_forget_saved() drops them instead. */
void obs_restore(struct obs_mgr *m);
void obs_forget_saved(struct obs_mgr *m);
/* False if observations.json exists but cannot be read back. */
bool obs_saved_valid(struct obs_mgr *m);

#endif
