/* fw_install.c - the installer side of the Firmware Update object.
 *
 * swupdate ([firmware] swupdate_dir, the TMPDIR its daemon runs with): the
 * client side of its IPC, spoken here over non-blocking sockets in the loop
 * (libswupdate's own calls block) with the message layouts of its headers.
 * An install request (REQ_INSTALL, RUN_DRYRUN for a check) goes to
 * DIR/sockinstctrl; after its ACK the image is streamed on that socket, then
 * it is closed.  The result is the first SUCCESS or FAILURE on the progress
 * socket DIR/swupdateprog, never swupdate's wait-for-complete call, which can
 * return the previous update's result.  The progress connection is opened
 * once and kept, since swupdate accepts it asynchronously and drops messages
 * sent before; a fresh one waits PROGRESS_SETTLE_MS before the request.
 * lwm2md is swupdate's only client and runs one request at a time.
 *
 * Otherwise [firmware] install_command runs through hook_run_opts() with the
 * image's path in LWM2MD_FW_IMAGE, stopped after [firmware] install_timeout
 * (not the [hooks] timeout: an install may take far longer than a reboot
 * hook); exit status 0 is success.  A check
 * without swupdate passes at once. */
#include "fw_install.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <network_ipc.h>
#include <progress_ipc.h>

#include "agent.h"
#include "cfg.h"
#include "dm.h"
#include "err.h"
#include "hook.h"
#include "log.h"
#include "loop.h"

#define PROGRESS_SETTLE_MS 200
#define ACK_TIMEOUT_S 5

struct fw_inst {
	struct agent *ag;
	fw_inst_done done;
	void *arg;
	bool dry_run, sent;
	char *image;
	int img_fd;                     /* the image being streamed */
	struct loop_fd ctrl;            /* swupdate's control socket, -1 when done */
	struct loop_timer timer;        /* settle, then the timeout */
	bool started;
	char version[256];              /* from swupdate's RUN messages */
	char why[256];                  /* the last error swupdate reported */
	uint8_t chunk[16384];
	size_t chunk_len, chunk_off;
};

/* The one progress connection (see above) and the job it reports to. */
static struct {
	struct loop_fd lf;
	struct agent *ag;
	struct progress_msg msg;
	size_t got;
	struct fw_inst *job;
	bool added;
} prog = { .lf = { .fd = -1 } };

static struct fw_inst *command_job;     /* an install_command running */

static void job_free(struct fw_inst *in)
{
	if (in->ctrl.fd >= 0) {
		loop_del_fd(in->ag->loop, &in->ctrl);
		close(in->ctrl.fd);
		in->ctrl.fd = -1;
	}
	if (in->img_fd >= 0)
		close(in->img_fd);
	loop_timer_cancel(in->ag->loop, &in->timer);
	if (prog.job == in)
		prog.job = NULL;
	if (command_job == in)
		command_job = NULL;
	free(in->image);
	free(in);
}

static void finish(struct fw_inst *in, bool ok, const char *why)
{
	fw_inst_done done = in->done;
	void *arg = in->arg;
	char w[256], v[256];

	snprintf(w, sizeof(w), "%s", why);
	snprintf(v, sizeof(v), "%s", in->version);
	job_free(in);
	if (done)
		done(arg, ok, w, v);
}

/* ---- swupdate --------------------------------------------------------- */

static void prog_close(void)
{
	if (prog.lf.fd >= 0) {
		if (prog.added)
			loop_del_fd(prog.ag->loop, &prog.lf);
		close(prog.lf.fd);
	}
	prog.lf.fd = -1;
	prog.added = false;
	prog.got = 0;
}

/* {"0": {"VERSION" : "1.0.1"}}: what swupdate read from sw-description. */
static void take_version(struct fw_inst *in, const char *info)
{
	const char *v = strstr(info, "\"VERSION\"");

	if (v && (v = strchr(v + 9, '"')))
		sscanf(v + 1, "%255[^\"]", in->version);
}

static void on_progress(struct loop_fd *lf, uint32_t revents)
{
	struct fw_inst *in;
	ssize_t n;

	for (;;) {
		n = read(lf->fd, (char *)&prog.msg + prog.got, sizeof(prog.msg) - prog.got);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			log_warn("swupdate: progress socket closed%s%s", n < 0 ? ": " : "",
				 n < 0 ? strerror(errno) : "");
			in = prog.job;
			prog_close();
			if (in)
				finish(in, false, "swupdate's progress socket closed");
			return;
		}
		prog.got += (size_t)n;
		if (prog.got < sizeof(prog.msg))
			continue;
		prog.got = 0;
		in = prog.job;
		if (!in)
			continue;       /* not ours: lwm2md should be the only client */
		prog.msg.info[sizeof(prog.msg.info) - 1] = 0;
		prog.msg.cur_image[sizeof(prog.msg.cur_image) - 1] = 0;
		log_debug("swupdate: status %d step %u/%u %u%% %s %s", prog.msg.status,
			  prog.msg.cur_step, prog.msg.nsteps, prog.msg.cur_percent,
			  prog.msg.cur_image, prog.msg.info);
		switch (prog.msg.status) {
		case START:
		case RUN:
			in->started = true;
			take_version(in, prog.msg.info);
			break;
		case SUCCESS:
			if (!in->sent)
				break;  /* an answer to someone else's request */
			finish(in, true, "swupdate: success");
			break;
		case FAILURE:
			if (!in->sent)
				break;
			finish(in, false, in->why[0] ? in->why :
			       "swupdate: image invalid or corrupted, or the install failed");
			break;
		default:
			if (prog.msg.infolen && prog.msg.status == PROGRESS)
				break;
		}
	}
}

static int prog_open(struct agent *ag, const char *dir, struct errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (prog.lf.fd >= 0)
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/swupdateprog", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errbuf_set(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errbuf_set(err, -errno, "swupdate is not running: %s: %s", sa.sun_path,
				strerror(errno));
		close(fd);
		return rc;
	}
	prog.ag = ag;
	prog.lf.fd = fd;
	prog.lf.events = EPOLLIN;
	prog.lf.cb = on_progress;
	prog.got = 0;
	rc = loop_add_fd(ag->loop, &prog.lf);
	if (rc) {
		close(fd);
		prog.lf.fd = -1;
		return errbuf_set(err, rc, "cannot watch the progress socket");
	}
	prog.added = true;
	return 1;       /* new: let swupdate accept it first */
}

static void on_ctrl(struct loop_fd *lf, uint32_t revents);

/* Streams the next piece of the image to swupdate. */
static void pump(struct fw_inst *in)
{
	for (;;) {
		ssize_t n;

		if (in->chunk_off == in->chunk_len) {
			n = read(in->img_fd, in->chunk, sizeof(in->chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* all sent (or unreadable): closing ends the image */
				loop_del_fd(in->ag->loop, &in->ctrl);
				close(in->ctrl.fd);
				in->ctrl.fd = -1;
				if (n < 0)
					snprintf(in->why, sizeof(in->why), "reading the image: %s",
						 strerror(errno));
				return;
			}
			in->chunk_len = (size_t)n;
			in->chunk_off = 0;
		}
		n = write(in->ctrl.fd, in->chunk + in->chunk_off, in->chunk_len - in->chunk_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;         /* EPOLLOUT brings us back */
		if (n < 0) {
			/* swupdate dropped the socket: it has refused the image;
			 * FAILURE follows on the progress socket */
			log_debug("swupdate: sending the image: %s", strerror(errno));
			loop_del_fd(in->ag->loop, &in->ctrl);
			close(in->ctrl.fd);
			in->ctrl.fd = -1;
			return;
		}
		in->chunk_off += (size_t)n;
	}
}

static void on_ctrl(struct loop_fd *lf, uint32_t revents)
{
	pump(container_of(lf, struct fw_inst, ctrl));
}

static void on_timeout(struct loop_timer *t)
{
	struct fw_inst *in = container_of(t, struct fw_inst, timer);
	char why[128];

	snprintf(why, sizeof(why), "swupdate did not finish within %u s",
		 in->ag->cfg->firmware.install_timeout);
	finish(in, false, why);
}

/* Sends the install request; the ACK comes at once from a local daemon, so
 * it is read with a short blocking timeout. */
static int request(struct fw_inst *in, struct errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ACK_TIMEOUT_S };
	const char *dir = in->ag->cfg->firmware.swupdate_dir;
	ipc_message msg;
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sockinstctrl", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errbuf_set(err, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errbuf_set(err, -errno, "swupdate is not running: %s: %s", sa.sun_path,
				strerror(errno));
		goto fail;
	}
	memset(&msg, 0, sizeof(msg));
	msg.magic = IPC_MAGIC;
	msg.type = REQ_INSTALL;
	msg.data.instmsg.req.apiversion = SWUPDATE_API_VERSION;
	msg.data.instmsg.req.source = SOURCE_LOCAL;
	msg.data.instmsg.req.dry_run = in->dry_run ? RUN_DRYRUN : RUN_INSTALL;
	snprintf(msg.data.instmsg.req.info, sizeof(msg.data.instmsg.req.info), "lwm2md");
	if (write(fd, &msg, sizeof(msg)) != sizeof(msg) ||
	    read(fd, &msg, sizeof(msg)) != sizeof(msg)) {
		rc = errbuf_set(err, -EIO, "swupdate: no answer to the install request");
		goto fail;
	}
	if (msg.type != ACK) {
		rc = errbuf_set(err, -EBUSY, "swupdate refused the request (busy?)");
		goto fail;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	in->ctrl.fd = fd;
	in->ctrl.events = EPOLLOUT;
	in->ctrl.cb = on_ctrl;
	if ((rc = loop_add_fd(in->ag->loop, &in->ctrl))) {
		in->ctrl.fd = -1;
		errbuf_set(err, rc, "cannot watch swupdate's socket");
		goto fail;
	}
	in->sent = true;
	prog.job = in;
	log_info("swupdate: %s %s", in->dry_run ? "checking" : "installing", in->image);
	return 0;
fail:
	close(fd);
	return rc;
}

static void on_settled(struct loop_timer *t)
{
	struct fw_inst *in = container_of(t, struct fw_inst, timer);
	struct errbuf err = { "" };

	if (request(in, &err)) {
		finish(in, false, err.msg);
		return;
	}
	in->timer.cb = on_timeout;
	loop_timer_set(in->ag->loop, &in->timer,
		       (uint64_t)in->ag->cfg->firmware.install_timeout * 1000);
}

static int start_swupdate(struct fw_inst *in, struct errbuf *err)
{
	int rc;

	if (prog.job)
		return errbuf_set(err, -EBUSY, "another swupdate request is running");
	in->img_fd = open(in->image, O_RDONLY | O_CLOEXEC);
	if (in->img_fd < 0)
		return errbuf_set(err, -errno, "%s: %s", in->image, strerror(errno));
	rc = prog_open(in->ag, in->ag->cfg->firmware.swupdate_dir, err);
	if (rc < 0)
		return rc;
	prog.job = in;          /* reserves swupdate; in->sent still false */
	/* always from the loop: done must not run before fw_install_start returns */
	in->timer.cb = on_settled;
	loop_timer_set(in->ag->loop, &in->timer, rc == 1 ? PROGRESS_SETTLE_MS : 0);
	return 0;
}

/* ---- install_command -------------------------------------------------- */

static void command_exited(struct agent *ag, const char *name, const struct hook_result *r)
{
	struct fw_inst *in = command_job;
	int status = r->status;
	char why[128];

	if (!in)
		return;
	if (r->timed_out) {
		snprintf(why, sizeof(why), "install command did not finish within %u s "
			 "([firmware] install_timeout): stopped", ag->cfg->firmware.install_timeout);
		finish(in, false, why);
		return;
	}
	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		finish(in, true, "install command: exit status 0");
		return;
	}
	if (status >= 0 && WIFEXITED(status))
		snprintf(why, sizeof(why), "install command: exit status %d", WEXITSTATUS(status));
	else if (status >= 0 && WIFSIGNALED(status))
		snprintf(why, sizeof(why), "install command: killed by signal %d",
			 WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "install command could not be run");
	finish(in, false, why);
}

static void on_pass(struct loop_timer *t)
{
	finish(container_of(t, struct fw_inst, timer), true, "no check configured");
}

static int start_command(struct fw_inst *in, struct errbuf *err)
{
	const char *cmd = in->ag->cfg->firmware.install_command;
	int rc;

	if (!cmd || !*cmd)
		return errbuf_set(err, -ENOENT,
				  "no installer: set [firmware] swupdate_dir or install_command");
	if (command_job)
		return errbuf_set(err, -EBUSY, "an install command is running");
	command_job = in;
	/* the hook's environment is the daemon's, taken at fork */
	setenv("LWM2MD_FW_IMAGE", in->image, 1);
	rc = hook_run_opts(in->ag, "install", cmd,
			   &(struct hook_opts){ .timeout = in->ag->cfg->firmware.install_timeout },
			   command_exited);
	unsetenv("LWM2MD_FW_IMAGE");
	if (rc) {
		/* hook_run called command_exited, which freed in */
		return errbuf_set(err, rc, "install command could not be started");
	}
	return 0;
}

/* ---- interface -------------------------------------------------------- */

struct fw_inst *fw_install_start(struct agent *ag, const char *image, bool dry_run,
				 fw_inst_done done, void *arg, struct errbuf *err)
{
	struct fw_inst *in = calloc(1, sizeof(*in));
	int rc;

	if (!in || !(in->image = strdup(image))) {
		free(in);
		errbuf_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	in->ag = ag;
	in->done = done;
	in->arg = arg;
	in->dry_run = dry_run;
	in->img_fd = -1;
	in->ctrl.fd = -1;
	in->timer.cb = on_pass;
	if (ag->cfg->firmware.swupdate_dir) {
		rc = start_swupdate(in, err);
	} else if (dry_run) {
		loop_timer_set(ag->loop, &in->timer, 0);
		rc = 0;
	} else {
		/* a failed start has called back (and freed in) already: hide
		 * that from the caller, who gets NULL and err */
		in->done = NULL;
		rc = start_command(in, err);
		if (rc)
			return NULL;
		in->done = done;
		return in;
	}
	if (rc) {
		job_free(in);
		return NULL;
	}
	return in;
}

void fw_install_cancel(struct fw_inst *in)
{
	if (in)
		job_free(in);
}
