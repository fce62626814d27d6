/* ctl.h - the local control channel: a Unix stream socket that lwm2mctl
 * talks to (status, read, send, update).
 *
 * Protocol: the client connects, writes one request line, then reads the
 * reply until EOF.  The reply is text, one item per line; its first line is
 * "ok" or "error: <reason>". */
#ifndef LWM_CTL_H
#define LWM_CTL_H

struct agent;
struct ctl;

/* Longest request line, newline included. */
#define CTL_LINE_MAX 512

/* Listens on ag->cfg->ctl_socket (a copy of the path is kept: a reload does
 * not move the socket).  Creates the missing parent folder 0750, removes a
 * stale socket left by a crash, makes the socket 0660 (root and the daemon's
 * group).  Returns NULL, with the reason logged, when the socket cannot be
 * made or another live daemon already answers on that path. */
struct ctl *ctl_new(struct agent *ag);
/* Drops open connections, closes and removes the socket; NULL is a no-op. */
void ctl_free(struct ctl *c);

#endif
