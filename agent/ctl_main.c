/* ctl_main.c - lwm2mctl: asks the running lwm2md over its control socket.
 *
 * It reads the daemon's configuration only to find [control] socket, writes
 * one request line, and prints the reply: what follows "ok" to stdout, an
 * "error: ..." reason to stderr.  Exit codes follow sysexits.h so that
 * scripts can tell "the daemon said no" (1) from "no daemon" (69), "not
 * allowed" (77) and "bad configuration" (78).  It holds no state and knows
 * nothing of LwM2M beyond the command names. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "cfg.h"
#include "ctl.h"

#define DEFAULT_CONFIG "/etc/lwm2md/lwm2md.ini"
#define DEFAULT_SOCKET "/run/lwm2md/lwm2md.sock"
#define ANSWER_TIMEOUT_S 10
#define ANSWER_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: lwm2mctl [-c FILE] [--socket PATH] COMMAND [ARGS]\n"
		"Asks the running lwm2md daemon.\n\n"
		"Commands:\n"
		"  status          registration state, server, location, queue\n"
		"  read PATH       values under PATH as the server sees them (read /3/0)\n"
		"  send PATH...    LwM2M Send of PATHs now (queued while not registered)\n"
		"  update          registration Update now\n\n"
		"Options:\n"
		"  -c, --config FILE   the daemon's configuration, for [control] socket\n"
		"                      (default " DEFAULT_CONFIG ")\n"
		"  -s, --socket PATH   the control socket (default: from the configuration,\n"
		"                      else " DEFAULT_SOCKET ")\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n\n"
		"Exit status: 0 ok, 1 the daemon refused, 64 usage, 69 lwm2md not running,\n"
		"76 bad answer, 77 permission denied, 78 bad configuration.\n");
}

/* Checks the command and its arguments before bothering the daemon. */
static int check_command(int argc, char **argv)
{
	const char *cmd = argv[0];
	int nargs = argc - 1;

	for (int i = 0; i < argc; i++) {
		if (!*argv[i] || strpbrk(argv[i], " \t\r\n")) {
			fprintf(stderr,
				"lwm2mctl: \"%s\": arguments cannot be empty or hold spaces\n",
				argv[i]);
			return -1;
		}
	}
	if ((!strcmp(cmd, "status") || !strcmp(cmd, "update")) && nargs == 0)
		return 0;
	if (!strcmp(cmd, "read") && nargs == 1)
		return 0;
	if (!strcmp(cmd, "send") && nargs >= 1)
		return 0;
	if (!strcmp(cmd, "status") || !strcmp(cmd, "update"))
		fprintf(stderr, "lwm2mctl: %s takes no arguments\n", cmd);
	else if (!strcmp(cmd, "read"))
		fprintf(stderr, "lwm2mctl: read takes one path, e.g. lwm2mctl read /3/0\n");
	else if (!strcmp(cmd, "send"))
		fprintf(stderr,
			"lwm2mctl: send takes one or more paths, e.g. lwm2mctl send /3/0/10\n");
	else
		fprintf(stderr,
			"lwm2mctl: unknown command \"%s\"; try status, read, send, update\n", cmd);
	return -1;
}

/* The socket path from the configuration.  Without -c, a missing default
 * file means the default socket: the daemon cannot run without one, but the
 * message about it is the daemon's to give. */
static int socket_from_config(const char *path, bool explicit, char **out)
{
	struct cfg *c;
	FILE *f = fopen(path, "r");

	if (!f) {
		if (errno == ENOENT && !explicit) {
			*out = strdup(DEFAULT_SOCKET);
			return *out ? 0 : EX_OSERR;
		}
		fprintf(stderr, "lwm2mctl: %s: %s%s\n", path, strerror(errno),
			errno == EACCES ? ": run as root or as a member of the lwm2md group" : "");
		return errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CONFIG;
	}
	fclose(f);
	c = cfg_load(path, stderr);
	if (!c)
		return EX_CONFIG;
	*out = strdup(c->ctl_socket);
	cfg_free(c);
	return *out ? 0 : EX_OSERR;
}

static int connect_to(const char *path, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ANSWER_TIMEOUT_S };
	int e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lwm2mctl: %s: socket path longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return EX_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		fprintf(stderr, "lwm2mctl: socket: %s\n", strerror(errno));
		return EX_OSERR;
	}
	/* bounds connect() to a full backlog as well as the wait for the answer */
	setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(*fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	e = errno;
	close(*fd);
	*fd = -1;
	if (e == EACCES || e == EPERM) {
		fprintf(stderr,
			"lwm2mctl: %s: %s: run as root or as a member of the lwm2md group\n",
			path, strerror(e));
		return EX_NOPERM;
	}
	fprintf(stderr, "lwm2mctl: cannot reach lwm2md at %s: %s%s\n", path, strerror(e),
		e == ENOENT || e == ECONNREFUSED ? " (is lwm2md running?)" : "");
	return EX_UNAVAILABLE;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads the answer until EOF into a NUL-terminated *out. */
static int read_answer(int fd, const char *path, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *p = malloc(cap), *q;
	ssize_t n;

	if (!p)
		return EX_OSERR;
	for (;;) {
		if (cap - len < 2048) {
			if (cap >= ANSWER_MAX) {
				fprintf(stderr, "lwm2mctl: the answer is larger than %u bytes\n",
					ANSWER_MAX);
				free(p);
				return EX_PROTOCOL;
			}
			q = realloc(p, cap * 2);
			if (!q) {
				free(p);
				return EX_OSERR;
			}
			p = q;
			cap *= 2;
		}
		n = read(fd, p + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bool late = errno == EAGAIN || errno == EWOULDBLOCK;

			fprintf(stderr, "lwm2mctl: %s: %s\n", path,
				late ? "no answer from lwm2md in time" : strerror(errno));
			free(p);
			return late ? EX_UNAVAILABLE : EX_PROTOCOL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	p[len] = 0;
	*out = p;
	*outlen = len;
	return 0;
}

/* Sends the request, prints the answer; returns the exit code. */
static int ask(const char *path, int argc, char **argv)
{
	char *req = NULL, *ans = NULL, *nl, *rest;
	size_t reqlen = 0, anslen = 0;
	FILE *m;
	int fd, rc;

	m = open_memstream(&req, &reqlen);
	if (!m)
		return EX_OSERR;
	for (int i = 0; i < argc; i++)
		fprintf(m, "%s%s", i ? " " : "", argv[i]);
	fputc('\n', m);
	if (fclose(m))
		return EX_OSERR;
	if (reqlen > CTL_LINE_MAX) {
		fprintf(stderr, "lwm2mctl: request longer than %d bytes\n", CTL_LINE_MAX - 1);
		free(req);
		return EX_USAGE;
	}
	rc = connect_to(path, &fd);
	if (rc) {
		free(req);
		return rc;
	}
	if (write_all(fd, req, reqlen) < 0) {
		fprintf(stderr, "lwm2mctl: %s: %s\n", path, strerror(errno));
		rc = EX_UNAVAILABLE;
		goto out;
	}
	shutdown(fd, SHUT_WR);
	rc = read_answer(fd, path, &ans, &anslen);
	if (rc)
		goto out;
	nl = memchr(ans, '\n', anslen);
	if (!nl) {
		fprintf(stderr, "lwm2mctl: %s: lwm2md closed the connection without an answer\n",
			path);
		rc = EX_PROTOCOL;
		goto out;
	}
	*nl = 0;
	rest = nl + 1;
	if (!strcmp(ans, "ok")) {
		fwrite(rest, 1, anslen - (size_t)(rest - ans), stdout);
		rc = fflush(stdout) ? EX_IOERR : 0;
	} else if (!strncmp(ans, "error: ", 7)) {
		fprintf(stderr, "lwm2mctl: %s\n", ans + 7);
		fwrite(rest, 1, anslen - (size_t)(rest - ans), stderr);
		rc = 1;
	} else {
		fprintf(stderr, "lwm2mctl: %s: unexpected answer \"%.80s\"\n", path, ans);
		rc = EX_PROTOCOL;
	}
out:
	close(fd);
	free(req);
	free(ans);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cfg_path = DEFAULT_CONFIG, *sock_opt = NULL;
	bool explicit = false;
	char *sock = NULL;
	int c, rc;

	/* "+": stop at the command, so that its arguments are never options */
	while ((c = getopt_long(argc, argv, "+c:s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			explicit = true;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'V':
			printf("lwm2mctl %s\n", LWM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "lwm2mctl: no command given\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (check_command(argc - optind, argv + optind))
		return EX_USAGE;
	if (sock_opt) {
		sock = strdup(sock_opt);
		rc = sock ? 0 : EX_OSERR;
	} else {
		rc = socket_from_config(cfg_path, explicit, &sock);
	}
	if (rc)
		return rc;
	rc = ask(sock, argc - optind, argv + optind);
	free(sock);
	return rc;
}
