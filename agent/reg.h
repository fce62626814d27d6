/* reg.h - the registration interface: Register, Update, De-register with the
 * one configured server, kept alive through outages. */
#ifndef LWM_REG_H
#define LWM_REG_H

#include <stdbool.h>
#include <stdint.h>

struct agent;
struct reg;

enum reg_state {
	REG_IDLE,               /* not started, or stopped */
	REG_REGISTERING,
	REG_REGISTERED,
	REG_UPDATING,
	REG_DEREGISTERING,
	REG_WAIT_RETRY,         /* a Register failed; the next try is scheduled */
	REG_DISABLED,           /* Server object Disable: off until the timeout */
};

struct reg *reg_new(struct agent *ag);
void reg_free(struct reg *r);
/* Starts registering now: an Update to the location a previous run saved if
 * it is still within its lifetime (returns true), else a Register. */
bool reg_start(struct reg *r);
/* Sends an Update now (Registration Update Trigger, lwm2mctl update). */
void reg_update_now(struct reg *r);
/* Something in the Update's parameters changed: links (instances created
 * or deleted), lifetime or binding.  Coalesced into one Update. */
void reg_links_changed(struct reg *r);
/* Data is about to go out: in queue mode after a quiet spell, an Update goes
 * first so the server delivers what it queued for us. */
void reg_wake(struct reg *r);
void reg_params_changed(struct reg *r);
/* Server object Disable: de-register, stay off for seconds, register again. */
void reg_disable(struct reg *r, uint32_t seconds);
/* De-registers, then calls done (also when the server does not answer
 * within timeout_ms, or when there is no registration). */
void reg_stop(struct reg *r, uint32_t timeout_ms, void (*done)(struct agent *ag));
/* The local UDP port of a saved registration (0 if none), so that a resumed
 * registration keeps the address the server knows. */
uint16_t reg_saved_port(struct agent *ag);
enum reg_state reg_state(const struct reg *r);
const char *reg_state_name(enum reg_state s);
const char *reg_location(const struct reg *r);
/* Seconds left of the current registration's lifetime, -1 if none. */
int64_t reg_lifetime_left(const struct reg *r);
/* The last registration failure ("server answered 4.00"), "" if none. */
const char *reg_last_error(const struct reg *r);

/* What the registration reads from the Server object (objects/server.c). */
uint32_t server_obj_lifetime(struct agent *ag);
const char *server_obj_binding(struct agent *ag);
bool server_obj_mute_send(struct agent *ag);

#endif
