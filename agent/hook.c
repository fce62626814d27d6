/* hook.c - runs the configured hook commands without blocking the loop.
 *
 * A hook is "/bin/sh -c CMD" in its own process group, stdin on /dev/null and
 * stdout/stderr shared with the daemon (so its output lands in the journal
 * next to ours).  Its exit is watched through a pidfd in the loop and reaped
 * with waitpid(); the daemon does not handle SIGCHLD.  After [hooks] timeout
 * seconds the whole group gets SIGTERM, and SIGKILL HOOK_GRACE_MS later.
 * Kernels before 5.3 have no pidfd: there the child is polled by a timer.
 *
 * hook_run_opts() may give a run its own timeout, and may keep its stdout
 * (a pipe read in the loop, at most opts->capture bytes kept; the rest is
 * read and dropped, so the child never blocks on a full pipe).
 *
 * Each run owns its own allocation, freed when the child has been reaped.
 * This file does not decide what a hook means (Device Reboot does); it only
 * starts, watches, stops and logs. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cfg.h"
#include "dm.h"
#include "log.h"
#include "loop.h"

#define HOOK_GRACE_MS 5000      /* from SIGTERM to SIGKILL */
#define HOOK_POLL_MS 200        /* exit polling without a pidfd */

struct hook_run {
	struct loop_fd lf;              /* the child's pidfd; fd -1 when polling */
	struct loop_fd out_lf;          /* read end of its stdout when captured, else -1 */
	struct loop_timer kill_timer;   /* the timeout, then the grace before SIGKILL */
	struct loop_timer poll_timer;   /* only without a pidfd */
	struct agent *ag;
	struct hook_run *next;          /* in runs, for hook_fini() */
	void (*done)(struct agent *ag, const char *name, int status);
	hook_cb done_opts;
	char *name, *cmd;
	char *out;                      /* captured stdout (capture + 1 bytes) */
	size_t out_len, out_max;
	pid_t pid;
	uint32_t timeout;               /* s, 0 = none */
	int sent;                       /* last signal sent to the group, 0 = none */
};

/* Runs still going.  Module state, not shared: only hook_fini() walks it, so
 * that nothing is left allocated when the daemon exits during a hook. */
static struct hook_run *runs;

static void free_run(struct hook_run *run)
{
	free(run->out);
	free(run->name);
	free(run->cmd);
	free(run);
}

/* Stops watching run and unlinks it; the caller frees it. */
static void detach(struct hook_run *run)
{
	struct hook_run **pp;

	if (run->lf.fd >= 0) {
		loop_del_fd(run->ag->loop, &run->lf);
		close(run->lf.fd);
		run->lf.fd = -1;
	}
	if (run->out_lf.fd >= 0) {
		loop_del_fd(run->ag->loop, &run->out_lf);
		close(run->out_lf.fd);
		run->out_lf.fd = -1;
	}
	loop_timer_cancel(run->ag->loop, &run->kill_timer);
	loop_timer_cancel(run->ag->loop, &run->poll_timer);
	for (pp = &runs; *pp; pp = &(*pp)->next) {
		if (*pp == run) {
			*pp = run->next;
			break;
		}
	}
}

/* Reads what the child wrote so far; false at end of file or error. */
static bool read_out(struct hook_run *run)
{
	char sink[512];
	ssize_t n;

	for (;;) {
		if (run->out_len < run->out_max)
			n = read(run->out_lf.fd, run->out + run->out_len, run->out_max - run->out_len);
		else
			n = read(run->out_lf.fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		if (run->out_len < run->out_max)
			run->out_len += (size_t)n;
	}
}

static void out_ready(struct loop_fd *lf, uint32_t revents)
{
	struct hook_run *run = container_of(lf, struct hook_run, out_lf);

	if (!read_out(run)) {
		loop_del_fd(run->ag->loop, lf);
		close(lf->fd);
		lf->fd = -1;
	}
}

static void finish(struct hook_run *run, int status)
{
	if (run->sent)
		log_warn("hook %s: killed after %u s", run->name, run->timeout);
	else if (status < 0)
		log_warn("hook %s: exit status lost (reaped elsewhere)", run->name);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("hook %s: exited with status 0", run->name);
	else if (WIFEXITED(status))
		log_warn("hook %s: exited with status %d", run->name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warn("hook %s: killed by signal %d (%s)", run->name, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	if (run->out_lf.fd >= 0)
		read_out(run);          /* what it wrote before it exited */
	detach(run);
	if (run->out)
		run->out[run->out_len] = 0;
	if (run->done)
		run->done(run->ag, run->name, status);
	if (run->done_opts)
		run->done_opts(run->ag, run->name, &(struct hook_result){
			.status = status, .timed_out = run->sent != 0,
			.out = run->out ? run->out : "" });
	free_run(run);
}

/* Reaps the child if it has exited (then run is freed); returns true if so. */
static bool reap(struct hook_run *run)
{
	int status;
	pid_t r;

	do
		r = waitpid(run->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	finish(run, r < 0 ? -1 : status);
	return true;
}

static void pidfd_ready(struct loop_fd *lf, uint32_t revents)
{
	struct hook_run *run = container_of(lf, struct hook_run, lf);

	reap(run);
}

static void poll_exit(struct loop_timer *t)
{
	struct hook_run *run = container_of(t, struct hook_run, poll_timer);
	struct loop *loop = run->ag->loop;

	if (!reap(run))
		loop_timer_set(loop, t, HOOK_POLL_MS);
}

static void timed_out(struct loop_timer *t)
{
	struct hook_run *run = container_of(t, struct hook_run, kill_timer);

	if (!run->sent) {
		log_warn("hook %s: still running after %u s: sending SIGTERM", run->name,
			 run->timeout);
		run->sent = SIGTERM;
		kill(-run->pid, SIGTERM);
		loop_timer_set(run->ag->loop, t, HOOK_GRACE_MS);
		return;
	}
	log_warn("hook %s: still running %d s after SIGTERM: sending SIGKILL", run->name,
		 HOOK_GRACE_MS / 1000);
	run->sent = SIGKILL;
	kill(-run->pid, SIGKILL);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) exec_child(const char *cmd, int out_fd)
{
	static const int reset[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD };
	sigset_t none;
	size_t i;
	int fd;

	setpgid(0, 0);
	/* The daemon blocks SIGTERM/SIGINT/SIGHUP for its signalfd; a blocked
	 * mask and ignored signals survive exec, and the hook could then not be
	 * stopped. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd > 0) {
		dup2(fd, 0);
		close(fd);
	} else if (fd < 0) {
		close(0);
	}
	if (out_fd >= 0 && dup2(out_fd, 1) < 0)
		_exit(127);
	/* Sockets and the epoll fd should all be O_CLOEXEC; this makes sure. */
	close_range(3, ~0u, 0);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static int start(struct agent *ag, const char *name, const char *cmd,
		 const struct hook_opts *opts,
		 void (*done)(struct agent *ag, const char *name, int status), hook_cb done_opts)
{
	struct hook_run *run = NULL;
	int pipefd[2] = { -1, -1 };
	pid_t pid;
	int fd, rc;

	if (!cmd || !*cmd) {
		log_warn("hook %s: no command configured", name);
		rc = -EINVAL;
		goto fail;
	}
	run = calloc(1, sizeof(*run));
	if (!run || !(run->name = strdup(name)) || !(run->cmd = strdup(cmd))) {
		log_err("hook %s: cannot start: out of memory", name);
		rc = -ENOMEM;
		goto fail;
	}
	run->ag = ag;
	run->done = done;
	run->done_opts = done_opts;
	run->timeout = opts && opts->timeout ? opts->timeout : ag->cfg->hooks.timeout;
	run->lf.fd = -1;
	run->out_lf.fd = -1;
	run->kill_timer.cb = timed_out;
	run->poll_timer.cb = poll_exit;
	if (opts && opts->capture) {
		run->out_max = opts->capture;
		if (!(run->out = malloc(run->out_max + 1))) {
			log_err("hook %s: cannot start: out of memory", name);
			rc = -ENOMEM;
			goto fail;
		}
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			rc = -errno;
			log_err("hook %s: cannot start: pipe: %s", name, strerror(errno));
			goto fail;
		}
	}

	pid = fork();
	if (pid < 0) {
		rc = -errno;
		log_err("hook %s: cannot start: fork: %s", name, strerror(errno));
		goto fail;
	}
	if (pid == 0)
		exec_child(run->cmd, pipefd[1]);
	if (pipefd[1] >= 0) {
		close(pipefd[1]);
		pipefd[1] = -1;
		fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
		run->out_lf.fd = pipefd[0];
		pipefd[0] = -1;
		run->out_lf.events = EPOLLIN;
		run->out_lf.cb = out_ready;
		rc = loop_add_fd(ag->loop, &run->out_lf);
		if (rc) {
			log_warn("hook %s: cannot watch its output: %s", name, strerror(-rc));
			close(run->out_lf.fd);
			run->out_lf.fd = -1;
		}
	}
	/* Also here, so that kill(-pid) works before the child got to run. */
	setpgid(pid, pid);
	run->pid = pid;
	log_info("hook %s: started: %s", name, cmd);

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		run->lf.fd = fd;
		run->lf.events = EPOLLIN;
		run->lf.cb = pidfd_ready;
		rc = loop_add_fd(ag->loop, &run->lf);
		if (rc) {
			log_warn("hook %s: cannot watch the pidfd: %s; polling", name,
				 strerror(-rc));
			close(fd);
			run->lf.fd = -1;
		}
	}
	if (run->lf.fd < 0)
		loop_timer_set(ag->loop, &run->poll_timer, HOOK_POLL_MS);
	if (run->timeout)
		loop_timer_set(ag->loop, &run->kill_timer, (uint64_t)run->timeout * 1000);
	run->next = runs;
	runs = run;
	return 0;

fail:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (run)
		free_run(run);
	if (done)
		done(ag, name, -1);
	if (done_opts)
		done_opts(ag, name, &(struct hook_result){ .status = -1, .out = "" });
	return rc;
}

int hook_run(struct agent *ag, const char *name, const char *cmd,
	     void (*done)(struct agent *ag, const char *name, int status))
{
	return start(ag, name, cmd, NULL, done, NULL);
}

int hook_run_opts(struct agent *ag, const char *name, const char *cmd,
		  const struct hook_opts *opts, hook_cb done)
{
	return start(ag, name, cmd, opts, NULL, done);
}

/* Forgets the hooks of ag that are still running (they go on and are reaped
 * by init once the daemon has exited) and frees their state.  For shutdown,
 * before loop_free(). */
void hook_fini(struct agent *ag)
{
	struct hook_run **pp = &runs, *run;

	while ((run = *pp)) {
		if (run->ag != ag) {
			pp = &run->next;
			continue;
		}
		log_info("hook %s: still running at exit (pid %d), left to finish", run->name,
			 (int)run->pid);
		detach(run);
		free_run(run);
	}
}
