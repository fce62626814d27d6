/* main.c - lwm2md: command line, start-up, signals and shutdown.
 *
 * main() shows the architecture: config, log, loop, data model and objects,
 * CoAP, registration, then the loop; teardown runs in reverse order.
 * SIGTERM/SIGINT de-register (bounded by a timer, so a dead server cannot
 * hold us) and exit 0; SIGHUP reloads the config, keeping the registration
 * when the server settings did not change. */
#include "agent.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "attr.h"
#include "cfg.h"
#include "coap.h"
#include "ctl.h"
#include "dm.h"
#include "dm_req.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "objects.h"
#include "observe.h"
#include "reg.h"
#include "send.h"
#include "sensors.h"
#include "store.h"

#define DEFAULT_CONFIG "/etc/lwm2md/lwm2md.ini"
#define STOP_TIMEOUT_MS 4000

struct daemon {
	struct agent ag;
	struct loop_fd sig;
	struct dm_obj *objs[16];
	void (*frees[16])(struct dm_obj *obj);
	int nobjs;
	struct sensors *sensors;        /* the [sensor.NAME] objects */
	bool stopping;
};

int agent_after_response(struct agent *ag, void (*fn)(struct agent *ag, void *arg), void *arg)
{
	return coapc_after_response(ag->coap, fn, arg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: lwm2md [-c FILE] [--foreground] [--check-config]\n"
		"LwM2M client daemon: registers this gateway with an LwM2M server.\n\n"
		"  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
		"  -f, --foreground    do not detach (implied under systemd)\n"
		"      --check-config  check the configuration and exit (0 valid, 78 not)\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n");
}

static void links_changed(void *arg)
{
	struct agent *ag = arg;

	if (ag->reg)
		reg_links_changed(ag->reg);
}

static void values_changed(void *arg, const struct dm_path *path)
{
	struct agent *ag = arg;

	if (ag->obs)
		obs_changed(ag->obs, path);
}

static int add_obj(struct daemon *d, struct dm_obj *obj, void (*fr)(struct dm_obj *))
{
	if (!obj) {
		log_err("out of memory creating objects");
		return -1;
	}
	d->objs[d->nobjs] = obj;
	d->frees[d->nobjs++] = fr;
	return dm_register(d->ag.dm, obj);
}

static int objects_init(struct daemon *d)
{
	struct agent *ag = &d->ag;

	if (add_obj(d, security_obj_new(ag), security_obj_free) ||
	    add_obj(d, server_obj_new(ag), server_obj_free) ||
	    add_obj(d, device_obj_new(ag), device_obj_free) ||
	    add_obj(d, firmware_obj_new(ag), firmware_obj_free) ||
	    add_obj(d, connmon_obj_new(ag), connmon_obj_free) ||
	    add_obj(d, connstat_obj_new(ag), connstat_obj_free) ||
	    add_obj(d, portfolio_obj_new(ag), portfolio_obj_free))
		return -1;
	d->sensors = sensors_new(ag);
	return d->sensors ? 0 : -1;
}

static void objects_fini(struct daemon *d)
{
	sensors_free(d->sensors);
	d->sensors = NULL;
	while (d->nobjs--) {
		dm_unregister(d->ag.dm, d->objs[d->nobjs]);
		d->frees[d->nobjs](d->objs[d->nobjs]);
	}
}

static void stopped(struct agent *ag)
{
	loop_stop(ag->loop);
}

static void reload(struct daemon *d)
{
	struct agent *ag = &d->ag;
	struct cfg *n = cfg_load(ag->cfg_path, stderr), *old = ag->cfg;
	bool params;

	if (!n) {
		log_err("%s: reload failed; keeping the running configuration", ag->cfg_path);
		return;
	}
	log_set_level(n->log_level);
	if (cfg_server_differs(old, n)) {
		/* a different server or identity: the old registration is of no use */
		log_info("%s: reloaded; server settings changed: registering anew", ag->cfg_path);
		reg_stop(ag->reg, STOP_TIMEOUT_MS, NULL);
		reg_free(ag->reg);
		ag->reg = NULL;
		coapc_free(ag->coap);
		ag->cfg = n;
		sensors_reload(d->sensors, n);
		cfg_free(old);
		ag->coap = coapc_new(ag, 0);
		ag->reg = ag->coap ? reg_new(ag) : NULL;
		if (!ag->reg) {
			log_err("cannot set up the new server; exiting");
			ag->exit_code = 1;
			loop_stop(ag->loop);
			return;
		}
		send_reconfigure(ag->send);
		reg_start(ag->reg);
		return;
	}
	params = old->server.lifetime != n->server.lifetime ||
		 strcmp(old->server.binding, n->server.binding);
	ag->cfg = n;
	sensors_reload(d->sensors, n);
	cfg_free(old);
	send_reconfigure(ag->send);
	log_info("%s: reloaded", ag->cfg_path);
	if (params)
		reg_params_changed(ag->reg);
}

static void on_signal(struct loop_fd *lf, uint32_t revents)
{
	struct daemon *d = container_of(lf, struct daemon, sig);
	struct signalfd_siginfo si;

	while (read(lf->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (d->stopping) {
				log_warn("second %s: exiting now", strsignal((int)si.ssi_signo));
				loop_stop(d->ag.loop);
				break;
			}
			d->stopping = true;
			log_info("%s: de-registering and stopping", strsignal((int)si.ssi_signo));
			sd_notify(0, "STOPPING=1");
			reg_stop(d->ag.reg, STOP_TIMEOUT_MS, stopped);
			break;
		case SIGHUP:
			sd_notify(0, "RELOADING=1");
			reload(d);
			sd_notify(0, "READY=1");
			break;
		}
	}
}

static int signals_init(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->sig.events = EPOLLIN;
	d->sig.cb = on_signal;
	if (d->sig.fd < 0 || loop_add_fd(d->ag.loop, &d->sig) < 0) {
		log_err("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int detach(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	if (!freopen("/dev/null", "r", stdin))
		return -1;
	return 0;
}

/* Hooks (factory reset above all) learn which file is the configuration from
 * LWM2MD_CONFIG, as an absolute path: they run from wherever the daemon is. */
static void export_config_path(const char *path)
{
	char *abs = realpath(path, NULL);

	setenv("LWM2MD_CONFIG", abs ? abs : path, 1);
	free(abs);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct daemon d = { 0 };
	struct agent *ag = &d.ag;
	bool check = false, foreground = false;
	struct errbuf err;
	int c;

	ag->cfg_path = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ag->cfg_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'C':
			check = true;
			break;
		case 'V':
			printf("lwm2md %s\n", LWM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;      /* EX_USAGE */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lwm2md: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 64;
	}
	ag->cfg = cfg_load(ag->cfg_path, stderr);
	if (!ag->cfg)
		return EX_CONFIG_CODE;
	if (check) {
		cfg_sensors_probe(ag->cfg, stderr);
		printf("%s: configuration is valid\n", ag->cfg_path);
		cfg_free(ag->cfg);
		return 0;
	}
	log_set_level(ag->cfg->log_level);
	export_config_path(ag->cfg_path);
	if (!foreground && !getenv("NOTIFY_SOCKET") && !getenv("INVOCATION_ID") && detach()) {
		log_err("cannot detach: %s", strerror(errno));
		return 1;
	}
	ag->exit_code = 1;
	if (store_mkdir(ag->cfg->state_dir, &err))
		log_warn("state folder: %s; state will not survive a restart", err.msg);
	ag->loop = loop_new();
	ag->dm = dm_new();
	ag->attrs = attr_store_new(ag->cfg->state_dir);
	ag->obs = obs_new(ag);
	if (!ag->loop || !ag->dm || !ag->attrs || !ag->obs || signals_init(&d) || objects_init(&d))
		goto out;
	dm_set_links_hook(ag->dm, links_changed, ag);
	dm_set_changed_hook(ag->dm, values_changed, ag);
	dm_set_attrs(ag->dm, ag->attrs);
	ag->coap = coapc_new(ag, reg_saved_port(ag));
	if (!ag->coap)
		goto out;
	ag->reg = reg_new(ag);
	if (!ag->reg)
		goto out;
	ag->send = send_new(ag);
	if (!ag->send)
		goto out;
	ag->ctl = ctl_new(ag);
	if (!ag->ctl)
		log_warn("running without the control socket: lwm2mctl cannot reach this daemon");
	log_info("lwm2md %s starting: server %s, endpoint %s", LWM_VERSION, ag->cfg->server.uri,
		 ag->cfg->server.endpoint);
	if (reg_start(ag->reg))
		obs_restore(ag->obs);
	else
		obs_forget_saved(ag->obs);
	sd_notify(0, "READY=1");
	ag->exit_code = 0;
	if (loop_run(ag->loop) < 0) {
		log_err("event loop: %s", strerror(errno));
		ag->exit_code = 1;
	}
	log_info("stopped");
out:
	ctl_free(ag->ctl);
	send_free(ag->send);
	reg_free(ag->reg);
	obs_free(ag->obs);
	ag->obs = NULL;
	coapc_free(ag->coap);
	objects_fini(&d);
	attr_store_free(ag->attrs);
	hook_fini(ag);
	dm_free(ag->dm);
	if (d.sig.fd > 0)
		close(d.sig.fd);
	loop_free(ag->loop);
	cfg_free(ag->cfg);
	return ag->exit_code;
}
