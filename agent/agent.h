/* agent.h - the context every module gets: no globals, one struct agent. */
#ifndef LWM_AGENT_H
#define LWM_AGENT_H

struct cfg;
struct dm;
struct loop;
struct coapc;
struct reg;

struct agent {
	struct cfg *cfg;
	struct loop *loop;
	struct dm *dm;
	struct coapc *coap;
	struct reg *reg;
	const char *cfg_path;
	int exit_code;
};

#endif
