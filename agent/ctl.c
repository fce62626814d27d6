/* ctl.c - the daemon side of the local control channel (lwm2mctl).
 *
 * A Unix stream socket, served from the loop like everything else: accept,
 * read one request line (at most CTL_LINE_MAX bytes, within CONN_TIMEOUT_MS),
 * build the whole reply, write it as the client drains it, close.  Nothing
 * here blocks; a client that stalls is dropped by its timer.  Connections
 * live in a fixed array of MAX_CONN slots: a slot is never freed, so an
 * event the loop already fetched for a connection closed earlier in the
 * same turn finds a slot with fd -1 (or a new connection, which then only
 * sees EAGAIN).  While every slot is busy the listener is paused and new
 * clients wait in the backlog.
 *
 * Who may talk to the daemon is decided by the file system alone: the
 * socket is 0660 and its folder 0750, so root and the members of the
 * daemon's group get in (under systemd, RuntimeDirectory= gives the folder
 * the service's User and Group).  The requests are those of a server with
 * no more rights: reads see what the server sees (Security is refused).
 *
 * This file is not the LwM2M interface and never touches CoAP: status,
 * read, send and update go through reg, dm, obs and send like a server
 * request would. */
#include "ctl.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "log.h"
#include "loop.h"
#include "observe.h"
#include "reg.h"
#include "send.h"
#include "store.h"

#define MAX_CONN 8
#define MAX_ARGS 16                     /* paths in one send */
#define CONN_TIMEOUT_MS 5000
#define ACCEPT_RETRY_MS 1000
#define BACKLOG 16
#define COMMANDS "try status, read, send, update"

struct conn {
	struct ctl *c;
	struct loop_fd lf;              /* fd -1: the slot is free */
	struct loop_timer timer;        /* drops a client that stalls */
	char in[CTL_LINE_MAX];
	size_t inlen;
	struct buf out;                 /* the reply, built whole before it is written */
	size_t outpos;
	bool replying;
	struct ucred peer;              /* for the log of requests that change something */
};

struct ctl {
	struct agent *ag;
	struct loop_fd lf;
	struct loop_timer retry;        /* accept() ran out of fds: try again later */
	bool paused;                    /* listener not watched: slots full, or retry armed */
	dev_t dev;                      /* the socket file made here, so that ctl_free() */
	ino_t ino;                      /* removes only that one */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int nconn;
	struct conn conn[MAX_CONN];
};

/* ---- connections ------------------------------------------------------- */

static void set_listening(struct ctl *c, bool on)
{
	if (c->paused == !on)
		return;
	c->paused = !on;
	c->lf.events = on ? EPOLLIN : 0;
	loop_mod_fd(c->ag->loop, &c->lf);
}

static void conn_close(struct conn *k)
{
	struct ctl *c = k->c;
	char junk[4096];

	/* Linux resets the peer of an AF_UNIX socket closed with unread bytes,
	 * and the client loses the reply: read what the client sent beyond the
	 * request (bounded: a client that keeps writing gets its reset). */
	for (int i = 0; i < 16 && read(k->lf.fd, junk, sizeof(junk)) > 0; i++)
		;
	loop_timer_cancel(c->ag->loop, &k->timer);
	loop_del_fd(c->ag->loop, &k->lf);
	close(k->lf.fd);
	k->lf.fd = -1;
	buf_fini(&k->out);
	k->inlen = 0;
	k->outpos = 0;
	k->replying = false;
	c->nconn--;
	if (!c->retry.armed)            /* else retry_accept() resumes */
		set_listening(c, true);
}

static void conn_timeout(struct loop_timer *t)
{
	struct conn *k = container_of(t, struct conn, timer);

	log_debug("control: client (pid %d) %s within %d s; dropped", (int)k->peer.pid,
		  k->replying ? "did not read the reply" : "sent no request",
		  CONN_TIMEOUT_MS / 1000);
	conn_close(k);
}

/* Writes what the socket takes; closes once the reply is out. */
static void conn_write(struct conn *k)
{
	static const char oom[] = "error: out of memory\n";
	const char *p = (const char *)k->out.p;
	size_t len = k->out.len;
	ssize_t n;

	if (k->out.oom) {
		p = oom;
		len = sizeof(oom) - 1;
	}
	while (k->outpos < len) {
		n = send(k->lf.fd, p + k->outpos, len - k->outpos, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!(k->lf.events & EPOLLOUT)) {
				k->lf.events = EPOLLOUT;
				loop_mod_fd(k->c->ag->loop, &k->lf);
			}
			return;
		}
		if (n < 0) {
			log_debug("control: client (pid %d) went away: %s", (int)k->peer.pid,
				  strerror(errno));
			break;
		}
		k->outpos += (size_t)n;
	}
	conn_close(k);
}

/* ---- replies ----------------------------------------------------------- */

static void reply_error(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct buf *out, const char *fmt, ...)
{
	char msg[CTL_LINE_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_reset(out);
	buf_printf(out, "error: %s\n", msg);
}

/* s between double quotes, with \" \\ and control bytes escaped, so that a
 * reply line stays one line whatever a value or a client's word holds. */
static void add_quoted(struct buf *out, const uint8_t *p, size_t len)
{
	buf_addc(out, '"');
	for (size_t i = 0; i < len; i++) {
		switch (p[i]) {
		case '"':  buf_adds(out, "\\\""); break;
		case '\\': buf_adds(out, "\\\\"); break;
		case '\n': buf_adds(out, "\\n"); break;
		case '\r': buf_adds(out, "\\r"); break;
		case '\t': buf_adds(out, "\\t"); break;
		default:
			if (p[i] < 0x20 || p[i] == 0x7f)
				buf_printf(out, "\\x%02x", p[i]);
			else
				buf_addc(out, p[i]);
		}
	}
	buf_addc(out, '"');
}

/* A client's word for an error message: quoted, escaped, cut at 64 bytes. */
static const char *quoted(const char *s, char *tmp, size_t size)
{
	struct buf b;
	size_t len = strlen(s);

	buf_init(&b);
	add_quoted(&b, (const uint8_t *)s, len > 64 ? 64 : len);
	if (len > 64)
		buf_adds(&b, "...");
	snprintf(tmp, size, "%s", b.oom ? "\"?\"" : buf_str(&b));
	buf_fini(&b);
	return tmp;
}

/* Fewest %g digits that read back as f: what a person wants to see. */
static void add_float(struct buf *out, double f)
{
	char s[32];
	int d;

	if (!isfinite(f)) {
		buf_adds(out, isnan(f) ? "nan" : f > 0 ? "inf" : "-inf");
		return;
	}
	for (d = 1; d < 17; d++) {
		snprintf(s, sizeof(s), "%.*g", d, f);
		if (strtod(s, NULL) == f)
			break;
	}
	buf_printf(out, "%.*g", d, f);
}

static void add_value(struct buf *out, const struct dm_value *v)
{
	switch (v->type) {
	case DM_T_STRING:
	case DM_T_CORELNK:
		add_quoted(out, v->bytes.p, v->bytes.len);
		break;
	case DM_T_OPAQUE:
		buf_adds(out, "0x");
		for (size_t i = 0; i < v->bytes.len; i++)
			buf_printf(out, "%02x", v->bytes.p[i]);
		break;
	case DM_T_INT:
	case DM_T_TIME:
		buf_printf(out, "%lld", (long long)v->i);
		break;
	case DM_T_UINT:
		buf_printf(out, "%llu", (unsigned long long)v->u);
		break;
	case DM_T_FLOAT:
		add_float(out, v->f);
		break;
	case DM_T_BOOL:
		buf_adds(out, v->b ? "true" : "false");
		break;
	case DM_T_OBJLNK:
		buf_printf(out, "%u:%u", v->lnk.oid, v->lnk.iid);
		break;
	case DM_T_NONE:
		buf_adds(out, "-");
		break;
	}
}

static const char *read_reason(int rc, char *tmp, size_t size)
{
	switch (rc) {
	case LWM_ENOTFOUND:
		return "not found";
	case LWM_EUNAUTH:
		return "the Security object is not readable";
	case LWM_ENOTALLOWED:
		return "not readable";
	case LWM_EUNAVAIL:
		return "not available now (sensor or hardware fault)";
	}
	snprintf(tmp, size, "read failed (%d.%02d)", (-rc) >> 5, (-rc) & 31);
	return tmp;
}

static bool registered(enum reg_state st)
{
	return st == REG_REGISTERED || st == REG_UPDATING;
}

static void cmd_status(struct ctl *c, struct buf *out)
{
	struct agent *ag = c->ag;
	struct reg *r = ag->reg;
	enum reg_state st = r ? reg_state(r) : REG_IDLE;
	const char *loc = r && registered(st) ? reg_location(r) : "";
	const char *last = r ? reg_last_error(r) : "";
	int64_t left = r ? reg_lifetime_left(r) : -1;

	buf_adds(out, "ok\n");
	buf_printf(out, "state: %s\n", reg_state_name(st));
	buf_printf(out, "server: %s\n", ag->cfg->server.uri);
	buf_printf(out, "endpoint: %s\n", ag->cfg->server.endpoint);
	if (*loc)
		buf_printf(out, "location: %s%s\n", *loc == '/' ? "" : "/", loc);
	else
		buf_adds(out, "location: -\n");
	if (left >= 0)
		buf_printf(out, "lifetime left: %lld s\n", (long long)left);
	else
		buf_adds(out, "lifetime left: -\n");
	buf_printf(out, "observations: %zu\n", ag->obs ? obs_count(ag->obs) : 0);
	buf_printf(out, "queued: %zu\n", ag->send ? send_queued(ag->send) : 0);
	buf_printf(out, "dropped: %llu\n",
		   (unsigned long long)(ag->send ? send_dropped(ag->send) : 0));
	buf_printf(out, "last error: %s\n", *last ? last : "-");
}

static int parse_path(const char *s, struct dm_path *p, struct buf *out)
{
	struct errbuf err;
	char q[96];

	if (dm_path_parse(s, p, &err)) {
		reply_error(out, "%s: not an LwM2M path", quoted(s, q, sizeof(q)));
		return -1;
	}
	return 0;
}

static void cmd_read(struct ctl *c, char **argv, int argc, struct buf *out)
{
	char ps[DM_PATH_STR_MAX], tmp[32];
	struct dm_recs recs;
	struct dm_path p;
	int rc;

	if (argc != 1) {
		reply_error(out, "read takes one path, e.g. read /3/0");
		return;
	}
	if (parse_path(argv[0], &p, out))
		return;
	dm_recs_init(&recs);
	rc = dm_read(c->ag->dm, &p, false, &recs);
	if (rc) {
		reply_error(out, "%s: %s", dm_path_str(&p, ps, sizeof(ps)),
			    read_reason(rc, tmp, sizeof(tmp)));
	} else {
		buf_adds(out, "ok\n");
		for (size_t i = 0; i < recs.n; i++) {
			buf_printf(out, "%s = ", dm_path_str(&recs.r[i].path, ps, sizeof(ps)));
			add_value(out, &recs.r[i].v);
			buf_addc(out, '\n');
		}
	}
	dm_recs_fini(&recs);
}

static void cmd_send(struct conn *k, char **argv, int argc, struct buf *out)
{
	struct agent *ag = k->c->ag;
	struct dm_path paths[MAX_ARGS];
	struct errbuf err = { .msg = "" };
	char tmp[32];
	int rc;

	if (argc < 1) {
		reply_error(out, "send takes one or more paths, e.g. send /3/0/10");
		return;
	}
	for (int i = 0; i < argc; i++)
		if (parse_path(argv[i], &paths[i], out))
			return;
	if (!ag->send) {
		reply_error(out, "Send is not available");
		return;
	}
	log_info("control: Send of %d path%s requested (uid %u, pid %d)", argc,
		 argc == 1 ? "" : "s", (unsigned)k->peer.uid, (int)k->peer.pid);
	rc = send_paths(ag->send, paths, (size_t)argc, &err);
	if (rc == LWM_ENOTALLOWED) {
		reply_error(out, "Send is muted by the server (1/0/23)");
	} else if (rc) {
		reply_error(out, "%s", err.msg[0] ? err.msg : read_reason(rc, tmp, sizeof(tmp)));
	} else {
		/* handed to the server now if it is the only entry; else it waits
		 * its turn behind older ones, or for the registration */
		bool now = ag->reg && registered(reg_state(ag->reg)) && send_queued(ag->send) <= 1;

		buf_adds(out, now ? "ok\nsent\n" : "ok\nqueued\n");
	}
}

static void cmd_update(struct conn *k, int argc, struct buf *out)
{
	struct reg *r = k->c->ag->reg;
	enum reg_state st = r ? reg_state(r) : REG_IDLE;

	if (argc) {
		reply_error(out, "update takes no arguments");
		return;
	}
	if (!r || !registered(st)) {
		reply_error(out, "not registered (state: %s)", reg_state_name(st));
		return;
	}
	log_info("control: registration Update requested (uid %u, pid %d)", (unsigned)k->peer.uid,
		 (int)k->peer.pid);
	reg_update_now(r);
	buf_adds(out, "ok\n");
}

/* Runs the request in line (NUL-terminated, no newline) and starts the reply. */
static void conn_request(struct conn *k, char *line)
{
	char *argv[MAX_ARGS + 2], *save = NULL, *w, q[96];
	int argc = 0;

	for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (argc == MAX_ARGS + 1) {
			reply_error(&k->out, "too many arguments (at most %d)", MAX_ARGS);
			goto reply;
		}
		argv[argc++] = w;
	}
	if (!argc) {
		reply_error(&k->out, "empty request; " COMMANDS);
	} else if (!strcmp(argv[0], "status") && argc == 1) {
		cmd_status(k->c, &k->out);
	} else if (!strcmp(argv[0], "status")) {
		reply_error(&k->out, "status takes no arguments");
	} else if (!strcmp(argv[0], "read")) {
		cmd_read(k->c, argv + 1, argc - 1, &k->out);
	} else if (!strcmp(argv[0], "send")) {
		cmd_send(k, argv + 1, argc - 1, &k->out);
	} else if (!strcmp(argv[0], "update")) {
		cmd_update(k, argc - 1, &k->out);
	} else {
		reply_error(&k->out, "unknown command %s; " COMMANDS,
			    quoted(argv[0], q, sizeof(q)));
	}
reply:
	log_debug("control: \"%s\" from pid %d: %.*s", argc ? argv[0] : "", (int)k->peer.pid,
		  (int)strcspn((const char *)buf_str(&k->out), "\n"), buf_str(&k->out));
	k->replying = true;
	/* the timer keeps running: a client that never reads is dropped too */
	conn_write(k);
}

static void conn_read(struct conn *k)
{
	char *nl;
	ssize_t n;

	for (;;) {
		n = read(k->lf.fd, k->in + k->inlen, sizeof(k->in) - k->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(k);
			return;
		}
		if (n == 0) {
			/* EOF: a request without its newline is still a request; no
			 * bytes at all is a probe (another lwm2md starting) */
			if (!k->inlen) {
				conn_close(k);
				return;
			}
			k->in[k->inlen] = 0;    /* < sizeof(in): a full buffer was refused */
			conn_request(k, k->in);
			return;
		}
		nl = memchr(k->in + k->inlen, '\n', (size_t)n);
		k->inlen += (size_t)n;
		if (nl) {
			*nl = 0;
			conn_request(k, k->in);
			return;
		}
		if (k->inlen == sizeof(k->in)) {
			reply_error(&k->out, "request longer than %d bytes", CTL_LINE_MAX - 1);
			k->replying = true;
			conn_write(k);
			return;
		}
	}
}

static void conn_io(struct loop_fd *lf, uint32_t revents)
{
	struct conn *k = container_of(lf, struct conn, lf);

	if (lf->fd < 0)
		return;         /* closed earlier in this loop turn */
	if (k->replying)
		conn_write(k);
	else
		conn_read(k);
}

/* ---- the listener ------------------------------------------------------ */

static void retry_accept(struct loop_timer *t)
{
	struct ctl *c = container_of(t, struct ctl, retry);

	if (c->nconn < MAX_CONN)
		set_listening(c, true);
}

static void on_accept(struct loop_fd *lf, uint32_t revents)
{
	struct ctl *c = container_of(lf, struct ctl, lf);
	socklen_t len;
	struct conn *k;
	int fd, i;

	while (c->nconn < MAX_CONN) {
		fd = accept4(lf->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener would wake us
			 * again at once; look again in a second */
			log_warn("control socket %s: accept: %s; pausing for %d ms", c->path,
				 strerror(errno), ACCEPT_RETRY_MS);
			set_listening(c, false);
			loop_timer_set(c->ag->loop, &c->retry, ACCEPT_RETRY_MS);
			return;
		}
		for (i = 0; c->conn[i].lf.fd >= 0; i++)
			;
		k = &c->conn[i];
		k->lf.fd = fd;
		k->lf.events = EPOLLIN;
		k->lf.cb = conn_io;
		if (loop_add_fd(c->ag->loop, &k->lf) < 0) {
			log_warn("control socket %s: cannot watch a connection", c->path);
			close(fd);
			k->lf.fd = -1;
			continue;
		}
		len = sizeof(k->peer);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &k->peer, &len) < 0)
			k->peer = (struct ucred){ .pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		buf_init(&k->out);
		k->inlen = 0;
		k->outpos = 0;
		k->replying = false;
		loop_timer_set(c->ag->loop, &k->timer, CONN_TIMEOUT_MS);
		c->nconn++;
	}
	set_listening(c, false);        /* conn_close() resumes it */
}

/* Is somebody answering on path?  0: nothing there, or a stale socket that
 * is now removed; -1: a live daemon, or something that is not ours to
 * remove (logged). */
static int clear_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket %s: exists and is not a socket; not removing it", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("control socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN) {
		/* EAGAIN: its backlog is full, so it is alive too */
		log_err("control socket %s: another lwm2md is answering there; not taking it over",
			path);
		return -1;
	}
	if (e != ECONNREFUSED) {
		log_err("control socket %s: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("control socket %s: cannot remove the stale socket: %s", path,
			strerror(errno));
		return -1;
	}
	log_info("control socket %s: removed a stale socket (an earlier run did not exit cleanly)",
		 path);
	return 0;
}

static int make_folder(const char *path)
{
	struct errbuf err;
	char *copy = strdup(path), *dir;
	int rc = 0;

	if (!copy) {
		log_err("control socket %s: out of memory", path);
		return -1;
	}
	dir = dirname(copy);
	if (strcmp(dir, "/") && strcmp(dir, ".") && store_mkdir(dir, &err)) {
		log_err("control socket %s: %s", path, err.msg);
		rc = -1;
	}
	free(copy);
	return rc;
}

struct ctl *ctl_new(struct agent *ag)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = ag->cfg->ctl_socket;
	struct stat st;
	struct ctl *c;
	const char *what;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		log_err("control socket %s: path longer than %zu bytes", path ? path : "(none)",
			sizeof(sa.sun_path) - 1);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_err("control socket %s: out of memory", path);
		return NULL;
	}
	c->ag = ag;
	c->lf.fd = -1;
	c->lf.events = EPOLLIN;
	c->lf.cb = on_accept;
	c->retry.cb = retry_accept;
	for (int i = 0; i < MAX_CONN; i++) {
		c->conn[i].c = c;
		c->conn[i].lf.fd = -1;
		c->conn[i].timer.cb = conn_timeout;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (make_folder(path) || clear_path(path, &sa))
		goto fail;
	c->lf.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	what = "socket";
	if (c->lf.fd < 0)
		goto fail_errno;
	what = "bind";
	if (bind(c->lf.fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail_errno;
	/* before listen(): nobody can connect while the mode is still umask's */
	what = "chmod 0660";
	if (chmod(path, 0660) < 0 || lstat(path, &st) < 0)
		goto fail_unlink;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	what = "listen";
	if (listen(c->lf.fd, BACKLOG) < 0)
		goto fail_unlink;
	what = "watch";
	errno = 0;
	if ((errno = -loop_add_fd(ag->loop, &c->lf)))
		goto fail_unlink;
	log_debug("control socket %s: listening", path);
	return c;

fail_unlink:
	log_err("control socket %s: %s: %s", path, what, strerror(errno));
	unlink(path);
	goto fail;
fail_errno:
	log_err("control socket %s: %s: %s", path, what, strerror(errno));
fail:
	if (c->lf.fd >= 0)
		close(c->lf.fd);
	free(c);
	return NULL;
}

void ctl_free(struct ctl *c)
{
	struct stat st;

	if (!c)
		return;
	for (int i = 0; i < MAX_CONN; i++)
		if (c->conn[i].lf.fd >= 0)
			conn_close(&c->conn[i]);
	loop_timer_cancel(c->ag->loop, &c->retry);
	loop_del_fd(c->ag->loop, &c->lf);
	close(c->lf.fd);
	/* only the socket made here: after a takeover the file is another's */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
}
