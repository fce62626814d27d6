/* agent.h - the context every module gets: no globals, one struct agent. */
#ifndef LWM_AGENT_H
#define LWM_AGENT_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;
struct dm;
struct loop;
struct coapc;
struct reg;
struct attr_store;
struct obs_mgr;
struct sendq;
struct ctl;

struct agent {
	struct cfg *cfg;
	struct loop *loop;
	struct dm *dm;
	struct coapc *coap;
	struct reg *reg;
	struct attr_store *attrs;
	struct obs_mgr *obs;
	struct sendq *send;
	struct ctl *ctl;
	const char *cfg_path;
	int exit_code;
	/* Told of every CoAP message sent or received with the size of its IP
	 * datagram, headers included (Connectivity Statistics counts them);
	 * NULL: nobody listens. */
	void (*msg_hook)(void *arg, size_t ip_len, bool tx);
	void *msg_hook_arg;
};

/* Runs fn(ag, arg) once the response to the request being handled has been
 * sent (Device Reboot answers 2.04 first, then runs its hook).  At most 8
 * pending calls; returns 0 or -ENOSPC. */
int agent_after_response(struct agent *ag, void (*fn)(struct agent *ag, void *arg), void *arg);

#endif
