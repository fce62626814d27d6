/* hook.h - runs the configured hook commands ([hooks] reboot, factory_reset)
 * without blocking the loop: fork/exec of /bin/sh -c, the exit watched by a
 * pidfd, killed after [hooks] timeout seconds. */
#ifndef LWM_HOOK_H
#define LWM_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* Starts cmd for hook name ("reboot").  The outcome (exit status, kill on
 * timeout) is logged; done (may be NULL) is called with the wait status, or
 * -1 if the command could not be started.  Returns 0 or -errno. */
int hook_run(struct agent *ag, const char *name, const char *cmd,
	     void (*done)(struct agent *ag, const char *name, int status));

/* What hook_run_opts() may change from hook_run()'s defaults. */
struct hook_opts {
	uint32_t timeout;       /* s before the group is stopped; 0: [hooks] timeout */
	size_t capture;         /* > 0: keep up to this many bytes of stdout (else shared) */
};

/* How a run ended, for hook_run_opts()'s callback. */
struct hook_result {
	int status;             /* wait status, -1 if it could not be started or was lost */
	bool timed_out;         /* stopped because it ran past its timeout */
	const char *out;        /* captured stdout, NUL-terminated ("" without capture) */
};

typedef void (*hook_cb)(struct agent *ag, const char *name, const struct hook_result *r);

/* hook_run() with its own timeout and, optionally, stdout kept for done.
 * done (may be NULL) is called as for hook_run(); returns 0 or -errno. */
int hook_run_opts(struct agent *ag, const char *name, const char *cmd,
		  const struct hook_opts *opts, hook_cb done);

/* Frees what lwm2md keeps of hooks still running at exit (the commands
 * themselves go on).  Call before loop_free(). */
void hook_fini(struct agent *ag);

#endif
