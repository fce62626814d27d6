/* coap.h - the daemon's CoAP side, over libcoap: one client session to the
 * configured server, requests from that server handed to the data model, and
 * requests of our own (registration) with a callback for the answer. */
#ifndef LWM_COAP_H
#define LWM_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct coapc;

/* What a request of ours got back.  code is a CoAP code (e.g. 201), or a
 * negative errno: -ETIMEDOUT (no answer after retransmissions), -ECONNRESET
 * (Reset), -ECONNREFUSED (ICMP port unreachable), -EIO (other failure). */
struct coapc_answer {
	int code;
	char location[128];     /* Location-Path options joined with '/' */
	const uint8_t *payload;
	size_t len;
};

typedef void (*coapc_cb)(void *arg, const struct coapc_answer *ans);

/* Creates the context and the session to ag->cfg's server; 0 or -errno with
 * the cause logged.  Requests from the server go to ag->dm.  local_port:
 * bind this port (0: any), falling back to any if it is taken. */
struct coapc *coapc_new(struct agent *ag, uint16_t local_port);
struct sockaddr_storage;
/* The server's address (the session's peer) and ours, as the kernel bound
 * the session's socket.  0, or -ENOTCONN when there is no session. */
int coapc_addrs(const struct coapc *c, struct sockaddr_storage *peer,
		struct sockaddr_storage *local);
/* The route to the server now leaves from another address than the one our
 * connected UDP socket is bound to (an address was removed or replaced):
 * opens a new session to the same server, from the same port if it is free.
 * Requests of ours still waiting are answered -ENETUNREACH; observations
 * carry on over the new session.  Call from the loop, never from a request
 * handler.  0 or -errno (then the next request of ours opens one). */
int coapc_rebind(struct coapc *c);
/* loop_now() of the last request or notification we sent. */
uint64_t coapc_last_tx(const struct coapc *c);
/* The UDP port our session uses (saved with the registration). */
uint16_t coapc_local_port(const struct coapc *c);
void coapc_free(struct coapc *c);
/* Sends a confirmable request; path is "rd" or "rd/5a3f", query without '?'
 * ("ep=x&lt=60"), fmt a Content-Format or -1.  cb is called exactly once,
 * unless coapc_cancel_all() runs first.  Returns 0 or -errno. */
int coapc_request(struct coapc *c, int method, const char *path, const char *query, int fmt,
		  const void *payload, size_t len, coapc_cb cb, void *arg);
/* Forgets every pending request of ours (their callbacks are not called). */
void coapc_cancel_all(struct coapc *c);
/* Syncs libcoap's resources with the data model's object instances (DELETE
 * needs a resource per instance).  Call after instances changed. */
void coapc_sync_resources(struct coapc *c);
/* Sends a notification for an observation: code 2.05 (or an error code
 * that ends it), Observe seq, under token, CON or NON.  A Reset or a CON
 * left unacknowledged cancels the observation.  0 or -errno. */
int coapc_notify(struct coapc *c, const uint8_t *token, size_t toklen, uint32_t seq, bool con,
		 int code, int format, const uint8_t *payload, size_t len);
/* Runs fn after the response being built has been sent. */
int coapc_after_response(struct coapc *c, void (*fn)(struct agent *ag, void *arg), void *arg);

#endif
