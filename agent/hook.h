/* hook.h - runs the configured hook commands ([hooks] reboot, factory_reset)
 * without blocking the loop: fork/exec of /bin/sh -c, the exit watched by a
 * pidfd, killed after [hooks] timeout seconds. */
#ifndef LWM_HOOK_H
#define LWM_HOOK_H

struct agent;

/* Starts cmd for hook name ("reboot").  The outcome (exit status, kill on
 * timeout) is logged; done (may be NULL) is called with the wait status, or
 * -1 if the command could not be started.  Returns 0 or -errno. */
int hook_run(struct agent *ag, const char *name, const char *cmd,
	     void (*done)(struct agent *ag, const char *name, int status));

/* Frees what lwm2md keeps of hooks still running at exit (the commands
 * themselves go on).  Call before loop_free(). */
void hook_fini(struct agent *ag);

#endif
