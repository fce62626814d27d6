/* sensors.c - the runtime behind the IPSO sensor objects: one instance per
 * [sensor.NAME] section, its driver channel, sampling and hot-plug.
 *
 * Sampling: sensors with the same period share one loop timer (a group);
 * each tick reads every sensor of the group, and a reading that changed
 * anything observable calls dm_changed() at once, so observers evaluate
 * gt/lt/st on fresh values.  A server read of a value older than max_age
 * samples on the spot; what that changes is announced from a zero timer
 * rather than from inside the read.  GPIO inputs also deliver edges through
 * their event fd, watched in the loop, straight to the observers.
 *
 * Faults and hot-plug: a channel that cannot be opened, or whose read fails,
 * is closed and opened again on the group's ticks (at most once a second),
 * which is how a device that was unbound and bound again, or a GPIO chip that
 * appeared, is picked up.  While it fails the instance answers 5.03 and
 * never presents an old value as current; the failure is logged once, and
 * so is the recovery.  A section with present = device has its instance only
 * while the device can be opened: it is created and deleted, and the
 * registration updated.  The kernel's device events (uevents of iio, hwmon,
 * thermal, gpio and i2c) make every hardware sensor look again at once, so a
 * device that comes or goes is seen without waiting for its period; the
 * ticks remain for what sends no event (a chip that fails while bound).
 * A failure is pushed to observers at once (from a
 * zero timer, as a read may be what found it): an observed value answers
 * 5.03 in an error notification, which ends that observation (RFC 7641 3.2);
 * an observed instance is notified without its value.
 *
 * What the server writes that is a setting (Application Type, polarity,
 * debounce, edge selection) is kept in STATE_DIR/sensors.json under the
 * section's name and wins over the config at the next start. */
#include "sensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "cfg.h"
#include "dm_req.h"
#include "log.h"
#include "store.h"
#include "oma/oma_3200.h"
#include "oma/oma_3201.h"
#include "oma/oma_3300.h"
#include "oma/oma_3301.h"
#include "oma/oma_3303.h"
#include "oma/oma_3304.h"
#include "oma/oma_3306.h"
#include "oma/oma_3313.h"
#include "oma/oma_3314.h"
#include "oma/oma_3315.h"
#include "oma/oma_3316.h"
#include "oma/oma_3317.h"
#include "oma/oma_3323.h"
#include "oma/oma_3325.h"
#include "oma/oma_3328.h"
#include "oma/oma_3330.h"
#include "oma/oma_3334.h"
#include "oma/oma_3342.h"
#include "oma/oma_3347.h"

#define STATE_FILE "sensors.json"
#define RETRY_MIN_MS 1000       /* a missing device is looked for at most this often */

#define TYPE(id, nm, k, q, o) { \
	.oid = id, .name = nm, .kind = k, .qty = q, .res = oma_##id##_res, \
	.nres = sizeof(oma_##id##_res) / sizeof(oma_##id##_res[0]), .ops = &o }

static const struct ipso_type types[] = {
	TYPE(3200, "Digital Input", IPSO_INPUT, DRV_Q_DIGITAL, ipso_input_ops),
	TYPE(3201, "Digital Output", IPSO_OUTPUT, DRV_Q_DIGITAL, ipso_output_ops),
	TYPE(3300, "Generic Sensor", IPSO_VALUE, DRV_Q_OTHER, ipso_value_ops),
	TYPE(3301, "Illuminance", IPSO_VALUE, DRV_Q_ILLUMINANCE, ipso_value_ops),
	TYPE(3303, "Temperature", IPSO_VALUE, DRV_Q_TEMP, ipso_value_ops),
	TYPE(3304, "Humidity", IPSO_VALUE, DRV_Q_HUMIDITY, ipso_value_ops),
	TYPE(3306, "Actuation", IPSO_OUTPUT, DRV_Q_DIGITAL, ipso_output_ops),
	TYPE(3313, "Accelerometer", IPSO_AXES, DRV_Q_ACCEL, ipso_axes_ops),
	TYPE(3314, "Magnetometer", IPSO_AXES, DRV_Q_MAGN, ipso_axes_ops),
	TYPE(3315, "Barometer", IPSO_VALUE, DRV_Q_PRESSURE, ipso_value_ops),
	TYPE(3316, "Voltage", IPSO_VALUE, DRV_Q_VOLTAGE, ipso_value_ops),
	TYPE(3317, "Current", IPSO_VALUE, DRV_Q_CURRENT, ipso_value_ops),
	TYPE(3323, "Pressure", IPSO_VALUE, DRV_Q_PRESSURE, ipso_value_ops),
	TYPE(3325, "Concentration", IPSO_VALUE, DRV_Q_CONCENTRATION, ipso_value_ops),
	TYPE(3328, "Power", IPSO_VALUE, DRV_Q_POWER, ipso_value_ops),
	TYPE(3330, "Distance", IPSO_VALUE, DRV_Q_DISTANCE, ipso_value_ops),
	TYPE(3334, "Gyrometer", IPSO_AXES, DRV_Q_GYRO, ipso_axes_ops),
	TYPE(3342, "On/Off switch", IPSO_INPUT, DRV_Q_DIGITAL, ipso_input_ops),
	TYPE(3347, "Push button", IPSO_INPUT, DRV_Q_DIGITAL, ipso_input_ops),
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct ipso_type *ipso_type_find(uint16_t oid)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (types[i].oid == oid)
			return &types[i];
	return NULL;
}

const char *ipso_type_ids(void)
{
	return "3200, 3201, 3300, 3301, 3303, 3304, 3306, 3313, 3314, 3315, 3316, 3317, "
	       "3323, 3325, 3328, 3330, 3334, 3342 or 3347";
}

/* One object per configured type. */
struct sensor_obj {
	struct dm_obj obj;
	const struct ipso_type *type;
	struct sensor_obj *next;
};

/* The sensors sampled with one period. */
struct group {
	struct sensors *set;
	uint32_t period_ms;
	struct loop_timer timer;
	uint64_t due;
	struct sensor *first;
	struct group *next;
};

struct sensors {
	struct agent *ag;
	struct sensor_obj *objs;
	struct group *groups;
	struct sensor **all;
	size_t n, cap;
	json_t *saved;                  /* sensors.json: settings by section name */
	struct loop_fd uev;             /* kernel device events, watched when listening */
	bool uev_on;
	struct loop_timer uev_pass;     /* every hardware sensor looks again */
	bool uev_all;                   /* the pass is for new events, not a retry */
	uint32_t uev_retry_ms;          /* until the next retry of the failing ones */
};

/* ---- small helpers -------------------------------------------------------- */

static struct dm *dm_of(const struct sensor *s)
{
	return s->set->ag->dm;
}

static void changed_now(struct sensor *s)
{
	struct dm_path p = { .id = { s->type->oid, s->inst.id }, .len = 2 };

	if (s->linked)
		dm_changed(dm_of(s), &p);
}

void sensor_changed(struct sensor *s)
{
	changed_now(s);
}

static void arm_later(struct sensor *s, uint64_t now);

static void __attribute__((format(printf, 2, 3))) fail(struct sensor *s, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	s->have = false;        /* never an old value as the current one */
	if (s->failing)
		return;
	s->failing = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%u/%u %s: %s; %s", s->type->oid, s->inst.id, s->cfg->name, msg,
		 s->cfg->present_device ? "the instance is deleted until it works" :
		 "answering 5.03 until it works");
	/* observers learn it from on_later(), outside whatever read found it */
	s->pending_change = true;
	arm_later(s, loop_now());
}

static void recovered(struct sensor *s)
{
	if (!s->failing)
		return;
	s->failing = false;
	log_info("%u/%u %s: working again: %s", s->type->oid, s->inst.id, s->cfg->name,
		 s->ch ? s->ch->desc : "");
}

static void link_inst(struct sensor *s)
{
	if (s->linked)
		return;
	if (dm_inst_add(s->obj, &s->inst)) {
		log_err("%u/%u %s: instance id taken", s->type->oid, s->inst.id, s->cfg->name);
		return;
	}
	s->linked = true;
	log_info("%u/%u %s: device present (%s): instance created", s->type->oid, s->inst.id,
		 s->cfg->name, s->ch ? s->ch->desc : "");
	dm_links_changed(dm_of(s));
	dm_changed(dm_of(s), &(struct dm_path){ .id = { s->type->oid }, .len = 1 });
}

static void unlink_inst(struct sensor *s)
{
	struct dm_path p = { .id = { s->type->oid, s->inst.id }, .len = 2 };

	if (!s->linked)
		return;
	dm_inst_unlink(s->obj, &s->inst);
	s->linked = false;      /* fail() said so */
	dm_links_changed(dm_of(s));
	dm_changed(dm_of(s), &p);       /* observers of it learn it is gone */
}

/* ---- channels ----------------------------------------------------------- */

static void on_event(struct loop_fd *lf, uint32_t revents);

static void close_ch(struct sensor *s)
{
	if (!s->ch)
		return;
	if (s->fd_watched)
		loop_del_fd(s->set->ag->loop, &s->lf);
	s->fd_watched = false;
	drv_close(s->ch);
	s->ch = NULL;
}

/* The level an output is driven to: its state through its polarity. */
static double out_level(const struct sensor *s)
{
	return s->state != s->polarity;
}

/* Opens s's channel: 0, or -errno with the reason in err (not logged). */
static int try_open(struct sensor *s, uint64_t now, struct errbuf *err)
{
	int rc, fd;

	s->last_try = now;
	s->ch = drv_open(s->cfg->drv, s->cfg, out_level(s), &rc, err);
	if (!s->ch) {
		s->have = false;
		return rc;
	}
	if (s->ch->ops->event_fd && (fd = s->ch->ops->event_fd(s->ch)) >= 0) {
		s->lf = (struct loop_fd){ .fd = fd, .events = EPOLLIN, .cb = on_event };
		rc = loop_add_fd(s->set->ag->loop, &s->lf);
		if (rc) {
			close_ch(s);
			return errbuf_set(err, rc, "cannot watch its event fd: %s", strerror(-rc));
		}
		s->fd_watched = true;
	}
	return 0;
}

static void arm_later(struct sensor *s, uint64_t now)
{
	uint64_t due = s->pending_change ? now : 0, d;

	if (s->type->kind == IPSO_INPUT && (d = digital_input_due(s)) && (!due || d < due))
		due = d;
	if (due)
		loop_timer_set(s->set->ag->loop, &s->later, due > now ? due - now : 0);
	else
		loop_timer_cancel(s->set->ag->loop, &s->later);
}

/* Takes one reading into s.  Returns true if anything observable changed.
 * from_read: called inside a server read, where instances must not come or
 * go (the device is then only reopened by the next tick). */
static bool sample(struct sensor *s, uint64_t now, bool from_read)
{
	struct errbuf err = { "" };
	double v[DRV_MAX_AXES] = { 0 };
	bool changed = false, was_linked = s->linked;
	int rc, i;

	if (from_read && !s->ch)
		return false;
	if (!s->ch && try_open(s, now, &err)) {
		fail(s, "cannot open: %s", err.msg);
		if (s->cfg->present_device)
			unlink_inst(s);
		return false;
	}
	if (s->fd_watched) {
		/* edges first, in their order, then the level now */
		on_event(&s->lf, 0);
		if (!s->ch)
			return false;
	}
	rc = s->ch->ops->read(s->ch, v, &err);
	if (rc && !from_read) {
		/* gone and back (a new hwmonN, a new IIO context)? reopen once */
		struct errbuf again = { "" };

		/* the first error is the one worth telling */
		close_ch(s);
		if (try_open(s, now, &again) == 0)
			rc = s->ch->ops->read(s->ch, v, &again);
	}
	if (rc) {
		close_ch(s);
		fail(s, "read failed: %s", err.msg);
		if (!from_read && s->cfg->present_device)
			unlink_inst(s);
		return false;
	}
	if (!s->linked && !from_read)
		link_inst(s);
	if (s->failing)
		changed = true;
	if (was_linked)
		recovered(s);
	else
		s->failing = false;     /* link_inst() said so */
	switch (s->type->kind) {
	case IPSO_VALUE:
	case IPSO_AXES:
		for (i = 0; i < s->cfg->axes; i++) {
			v[i] = v[i] * s->cfg->scale + s->cfg->offset;
			if (!isfinite(v[i])) {
				fail(s, "read failed: %s: not a finite number", s->ch->desc);
				return false;
			}
		}
		changed |= ipso_take(s, v);
		break;
	case IPSO_INPUT:
		s->have = true;
		changed |= digital_input_level(s, v[0] != 0, now);
		break;
	case IPSO_OUTPUT:
		/* a read proves the line is still there; the state is ours */
		s->have = true;
		break;
	}
	s->t = now;
	s->wall = loop_wall();
	return changed;
}

static void on_event(struct loop_fd *lf, uint32_t revents)
{
	struct sensor *s = container_of(lf, struct sensor, lf);
	struct errbuf err = { "" };
	struct drv_edge e;
	bool changed = false;
	int rc = 0;

	while (s->ch && (rc = s->ch->ops->event(s->ch, &e, &err)) == 1) {
		changed |= digital_input_level(s, e.level, e.t);
		s->have = true;
		s->t = e.t;
		s->wall = loop_wall();
	}
	if (s->ch && (rc < 0 || (revents & (EPOLLERR | EPOLLHUP)))) {
		close_ch(s);
		fail(s, "%s", rc < 0 ? err.msg : "the line went away");
	}
	arm_later(s, loop_now());
	if (changed && revents)
		changed_now(s);
	else if (changed)
		s->pending_change = true;       /* from sample(): its caller tells */
}

static void on_later(struct loop_timer *t)
{
	struct sensor *s = container_of(t, struct sensor, later);
	bool changed = s->pending_change;
	uint64_t now = loop_now();

	s->pending_change = false;
	if (s->type->kind == IPSO_INPUT)
		changed |= digital_input_settle(s, now);
	arm_later(s, now);
	if (changed)
		changed_now(s);
}

int sensor_fresh(struct sensor *s)
{
	uint64_t now = loop_now();

	if (s->ch && (!s->have || now - s->t > s->cfg->max_age_ms) &&
	    s->type->kind != IPSO_OUTPUT && sample(s, now, true)) {
		s->pending_change = true;
		arm_later(s, now);
	}
	return s->ch && s->have && !s->failing ? 0 : LWM_EUNAVAIL;
}

int sensor_drive(struct sensor *s, bool level)
{
	struct errbuf err = { "" };

	if (!s->ch || s->failing)
		return LWM_EUNAVAIL;
	if (s->ch->ops->write(s->ch, level, &err)) {
		log_warn("%u/%u %s: write failed: %s", s->type->oid, s->inst.id, s->cfg->name,
			 err.msg);
		return LWM_EUNAVAIL;
	}
	return 0;
}

const char *sensor_app_type(const struct sensor *s)
{
	return s->app_type ? s->app_type : s->cfg->application_type;
}

int sensor_set_app_type(struct sensor *s, const uint8_t *p, size_t len)
{
	char *a;

	if (len > 255 || (len && memchr(p, 0, len)))
		return LWM_EBADREQ;
	a = malloc(len + 1);
	if (!a)
		return LWM_EINTERNAL;
	if (len)
		memcpy(a, p, len);
	a[len] = 0;
	free(s->app_type);
	s->app_type = a;
	return 0;
}

const char *sensor_units(const struct sensor *s)
{
	struct drv_info info = { .axes = 1 };
	struct errbuf err;
	const char *bad, *u;

	if (s->cfg->units)
		return s->cfg->units;
	/* the unit the driver converts to (a 3300 may read anything) */
	if (!s->cfg->drv->check(s->cfg, &info, &bad, &err) && (u = drv_qty_unit(info.qty)))
		return u;
	return drv_qty_unit(s->type->qty);
}

/* Samples s now; a new value (or a change the sample found on the way)
 * re-arms its timer and reaches the observers at once. */
static void resample(struct sensor *s, uint64_t now)
{
	s->pending_change = false;
	if (sample(s, now, false) || s->pending_change) {
		s->pending_change = false;
		arm_later(s, now);
		changed_now(s);
	}
}

/* ---- groups --------------------------------------------------------------- */

static void on_tick(struct loop_timer *t)
{
	struct group *g = container_of(t, struct group, timer);
	uint64_t now = loop_now();
	struct sensor *s, *next;

	for (s = g->first; s; s = next) {
		next = s->next;
		if (!s->ch && now - s->last_try < RETRY_MIN_MS)
			continue;
		resample(s, now);
	}
	g->due += g->period_ms;
	if (g->due <= now)
		g->due = now + g->period_ms;
	loop_timer_set(g->set->ag->loop, &g->timer, g->due - now);
}

#define UEV_RETRY_MAX_MS 16000
/* The pass runs this long after the first event of a burst: the kernel has
 * finished with the device by then.  At once was too soon: a GPIO line
 * released while gpio-sim was still removing its chip corrupted Linux 6.1's
 * memory (tests/hwsim, a general protection fault a second later). */
#define UEV_SETTLE_MS 250

/* A device came or went: every hardware sensor is sampled now (a missing one
 * opened again without the retry pause, which is for polling).  A device
 * may not answer at once when it appears (tmp102 reports EAGAIN until its
 * first conversion), so the ones still failing are tried again 0.5, 1, 2 ...
 * 16 s later, about half a minute after the last event. */
static void on_uev_pass(struct loop_timer *t)
{
	struct sensors *set = container_of(t, struct sensors, uev_pass);
	uint64_t now = loop_now();
	bool failing = false;
	size_t i;

	for (i = 0; i < set->n; i++) {
		struct sensor *s = set->all[i];

		if (s->cfg->drv == &drv_sim || (!set->uev_all && s->ch && !s->failing))
			continue;
		resample(s, now);
		failing |= !s->ch || s->failing;
	}
	set->uev_all = false;
	if (!failing || set->uev_retry_ms >= UEV_RETRY_MAX_MS)
		return;
	set->uev_retry_ms = set->uev_retry_ms ? set->uev_retry_ms * 2 : 500;
	loop_timer_set(set->ag->loop, &set->uev_pass, set->uev_retry_ms);
}

static void on_uevent(struct loop_fd *lf, uint32_t revents)
{
	struct sensors *set = container_of(lf, struct sensors, uev);
	bool hw = false;
	int rc = drv_uevent_read(lf->fd, &hw);

	if (rc < 0)
		log_warn("sensors: reading device events: %s", strerror(-rc));
	/* one pass for a burst (a bind is several events), once it settled */
	if (hw) {
		int64_t left = loop_timer_left(set->ag->loop, &set->uev_pass);

		set->uev_all = true;
		set->uev_retry_ms = 0;
		if (left < 0 || left > UEV_SETTLE_MS)
			loop_timer_set(set->ag->loop, &set->uev_pass, UEV_SETTLE_MS);
	}
}

/* Listens to device events once a sensor reads hardware; without them
 * (no netlink in a container) the ticks still find devices, later. */
static void uev_start(struct sensors *set)
{
	struct errbuf err = { "" };
	size_t i;
	int fd;

	for (i = 0; i < set->n && set->all[i]->cfg->drv == &drv_sim; i++)
		;
	if (set->uev_on || i == set->n)
		return;
	set->uev_pass.cb = on_uev_pass;
	fd = drv_uevent_open(&err);
	if (fd < 0) {
		log_warn("sensors: %s; devices that come and go are seen on the sampling ticks only",
			 err.msg);
		return;
	}
	set->uev = (struct loop_fd){ .fd = fd, .events = EPOLLIN, .cb = on_uevent };
	if (loop_add_fd(set->ag->loop, &set->uev)) {
		close(fd);
		return;
	}
	set->uev_on = true;
}

static void uev_stop(struct sensors *set)
{
	loop_timer_cancel(set->ag->loop, &set->uev_pass);
	if (!set->uev_on)
		return;
	loop_del_fd(set->ag->loop, &set->uev);
	close(set->uev.fd);
	set->uev_on = false;
}

static void group_add(struct sensors *set, struct sensor *s)
{
	struct group *g;

	for (g = set->groups; g && g->period_ms != s->cfg->period_ms; g = g->next)
		;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return;         /* never sampled but on demand: logged by the caller */
		g->set = set;
		g->period_ms = s->cfg->period_ms;
		g->timer.cb = on_tick;
		g->next = set->groups;
		set->groups = g;
		g->due = loop_now() + g->period_ms;
		loop_timer_set(set->ag->loop, &g->timer, g->period_ms);
	}
	s->next = g->first;
	g->first = s;
}

static void group_remove(struct sensors *set, struct sensor *s)
{
	struct group **gp, *g;
	struct sensor **sp;

	for (gp = &set->groups; (g = *gp); gp = &g->next) {
		for (sp = &g->first; *sp && *sp != s; sp = &(*sp)->next)
			;
		if (!*sp)
			continue;
		*sp = s->next;
		if (!g->first) {
			loop_timer_cancel(set->ag->loop, &g->timer);
			*gp = g->next;
			free(g);
		}
		return;
	}
}

/* ---- saved settings -------------------------------------------------------- */

static void state_load(struct sensors *set)
{
	const char *dir = set->ag->cfg->state_dir;
	struct errbuf err = { "" };
	int rc;

	if (!dir)
		return;
	rc = store_read_json(dir, STATE_FILE, &set->saved, &err);
	if (rc) {
		if (rc != -ENOENT)
			log_warn("sensors: %s; saved settings ignored", err.msg);
		return;
	}
	if (!json_is_object(set->saved)) {
		log_warn("sensors: %s/%s: not a JSON object; saved settings ignored", dir,
			 STATE_FILE);
		json_decref(set->saved);
		set->saved = NULL;
	}
}

/* Applies what the server wrote earlier for this section; entries of the
 * wrong type or range are skipped. */
static void state_apply(struct sensors *set, struct sensor *s)
{
	json_t *o = set->saved ? json_object_get(set->saved, s->cfg->name) : NULL, *v;
	bool digital = s->type->kind == IPSO_INPUT || s->type->kind == IPSO_OUTPUT;

	if (!o)
		return;
	if ((v = json_object_get(o, "application_type")) && json_is_string(v)) {
		const char *a = json_string_value(v);

		sensor_set_app_type(s, (const uint8_t *)a, strlen(a));
	}
	if (digital && (v = json_object_get(o, "polarity")) && json_is_boolean(v))
		s->polarity = json_is_true(v);
	if (s->type->kind != IPSO_INPUT)
		return;
	if ((v = json_object_get(o, "debounce")) && json_is_integer(v) &&
	    json_integer_value(v) >= 0 && json_integer_value(v) <= 60000)
		s->debounce_ms = (uint32_t)json_integer_value(v);
	if ((v = json_object_get(o, "edge")) && json_is_integer(v) &&
	    json_integer_value(v) >= 1 && json_integer_value(v) <= 3)
		s->edge = (uint8_t)json_integer_value(v);
}

/* The settings of s that differ from its config (what the server wrote);
 * NULL if none do. */
static json_t *settings_of(const struct sensor *s)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (s->app_type)
		json_object_set_new(o, "application_type", json_string(s->app_type));
	if ((s->type->kind == IPSO_INPUT || s->type->kind == IPSO_OUTPUT) && s->polarity)
		json_object_set_new(o, "polarity", json_true());
	if (s->type->kind == IPSO_INPUT) {
		if (s->debounce_ms != s->cfg->debounce_ms)
			json_object_set_new(o, "debounce", json_integer(s->debounce_ms));
		if (s->edge != s->cfg->edge)
			json_object_set_new(o, "edge", json_integer(s->edge));
	}
	if (!json_object_size(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Saves the settings when they differ from what the file holds (a relay
 * switched by the server changes no setting: no write). */
static void state_save(struct sensors *set)
{
	const char *dir = set->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_t *root = json_object(), *o;
	size_t i;

	if (!dir || !root)
		goto out;
	for (i = 0; i < set->n; i++)
		if ((o = settings_of(set->all[i])) &&
		    json_object_set_new(root, set->all[i]->cfg->name, o))
			goto oom;
	if (set->saved && json_equal(root, set->saved))
		goto out;
	if (!set->saved && !json_object_size(root))
		goto out;
	if (store_write_json(dir, STATE_FILE, root, JSON_SORT_KEYS | JSON_INDENT(1), &err)) {
		log_err("sensors: cannot save settings: %s", err.msg);
		goto out;
	}
	/* the file now says what the sensors hold */
	json_decref(set->saved);
	set->saved = root;
	return;
oom:
	log_err("sensors: cannot save settings: out of memory");
out:
	json_decref(root);
}

void sensors_obj_changed(struct dm_obj *obj, struct dm_inst *inst)
{
	struct sensor *s;

	if (!inst)
		return;
	s = sensor_of(inst);
	state_save(s->set);
}

/* ---- building -------------------------------------------------------------- */

static struct dm_obj *obj_for(struct sensors *set, const struct ipso_type *t)
{
	struct sensor_obj *so;

	for (so = set->objs; so; so = so->next)
		if (so->type == t)
			return &so->obj;
	so = calloc(1, sizeof(*so));
	if (!so)
		return NULL;
	so->type = t;
	so->obj = (struct dm_obj){
		.oid = t->oid,
		.version = "1.1",
		.multi_inst = true,
		.res = t->res,
		.nres = t->nres,
		.ops = t->ops,
	};
	if (dm_register(set->ag->dm, &so->obj)) {
		log_err("%u: registered twice", t->oid);
		free(so);
		return NULL;
	}
	so->next = set->objs;
	set->objs = so;
	return &so->obj;
}

static struct sensor *sensor_new(struct sensors *set, const struct cfg_sensor *c)
{
	struct sensor *s = calloc(1, sizeof(*s));
	struct errbuf err = { "" };
	uint64_t now = loop_now();

	if (!s)
		return NULL;
	s->set = set;
	s->cfg = c;
	s->type = ipso_type_find(c->oid);
	s->obj = obj_for(set, s->type);
	if (!s->obj) {
		free(s);
		return NULL;
	}
	s->inst.id = c->iid;
	s->later.cb = on_later;
	s->debounce_ms = c->debounce_ms;
	s->edge = c->edge;
	s->state = c->output && c->initial;
	s->state_since = now;
	s->changed_wall = loop_wall();
	state_apply(set, s);
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct sensor **all = realloc(set->all, cap * sizeof(*all));

		if (!all) {
			free(s->app_type);
			free(s);
			return NULL;
		}
		set->all = all;
		set->cap = cap;
	}
	set->all[set->n++] = s;
	group_add(set, s);
	if (try_open(s, now, &err) == 0) {
		if (s->type->kind == IPSO_OUTPUT) {
			s->have = true;
			s->t = now;
			s->wall = loop_wall();
		} else {
			sample(s, now, true);   /* a first value, and min = max = it */
		}
	} else if (s->cfg->present_device) {
		/* failing, quietly: the instance appears with the device */
		s->failing = true;
		log_info("%u/%u %s: device not present (%s); the instance appears with it",
			 c->oid, c->iid, c->name, err.msg);
	} else {
		fail(s, "cannot open: %s", err.msg);
	}
	if (!c->present_device || s->ch) {
		if (dm_inst_add(s->obj, &s->inst) == 0)
			s->linked = true;
	}
	return s;
}

static void sensor_free(struct sensors *set, struct sensor *s)
{
	if (s->linked)
		dm_inst_unlink(s->obj, &s->inst);
	s->linked = false;
	close_ch(s);
	loop_timer_cancel(set->ag->loop, &s->later);
	group_remove(set, s);
	free(s->app_type);
	free(s);
}

struct sensors *sensors_new(struct agent *ag)
{
	struct sensors *set = calloc(1, sizeof(*set));
	const struct cfg *c = ag->cfg;
	size_t i;

	if (!set) {
		log_err("sensors: out of memory");
		return NULL;
	}
	set->ag = ag;
	state_load(set);
	for (i = 0; i < c->nsensors; i++) {
		if (!c->sensors[i].drv)
			continue;
		if (!sensor_new(set, &c->sensors[i])) {
			log_err("[sensor.%s]: out of memory", c->sensors[i].name);
			sensors_free(set);
			return NULL;
		}
	}
	uev_start(set);
	return set;
}

static void objs_prune(struct sensors *set, bool all)
{
	struct sensor_obj **op = &set->objs, *so;
	size_t i;

	while ((so = *op)) {
		bool used = false;

		for (i = 0; i < set->n && !all && !used; i++)
			used = set->all[i]->obj == &so->obj;
		if (used) {
			op = &so->next;
			continue;
		}
		dm_unregister(set->ag->dm, &so->obj);
		*op = so->next;
		free(so);
	}
}

void sensors_free(struct sensors *set)
{
	size_t i;

	if (!set)
		return;
	uev_stop(set);
	for (i = 0; i < set->n; i++)
		sensor_free(set, set->all[i]);
	set->n = 0;
	objs_prune(set, true);
	free(set->all);
	json_decref(set->saved);
	free(set);
}

static bool same_section(const struct cfg_sensor *a, const struct cfg_sensor *b)
{
	size_t i;

	if (strcmp(a->name, b->name) || a->nkv != b->nkv || a->oid != b->oid || a->iid != b->iid)
		return false;
	for (i = 0; i < a->nkv; i++)
		if (strcmp(a->kv[i].key, b->kv[i].key) || strcmp(a->kv[i].val, b->kv[i].val))
			return false;
	return true;
}

void sensors_reload(struct sensors *set, const struct cfg *c)
{
	bool *kept = calloc(c->nsensors + 1, sizeof(*kept)), links = false;
	size_t i, j, n = 0;

	if (!set)
		return;
	if (!kept) {
		log_err("sensors: out of memory on reload; keeping the sensors as they were");
		return;
	}
	/* unchanged sections keep their instance (values, extremes, channel);
	 * the rest go, and the new ones come */
	for (i = 0; i < set->n; i++) {
		struct sensor *s = set->all[i];

		for (j = 0; j < c->nsensors; j++)
			if (!kept[j] && c->sensors[j].drv && same_section(s->cfg, &c->sensors[j]))
				break;
		if (j < c->nsensors) {
			kept[j] = true;
			s->cfg = &c->sensors[j];
			if (s->ch)
				s->ch->sec = s->cfg;
			set->all[n++] = s;
		} else {
			log_info("%u/%u %s: removed by the reload", s->type->oid, s->inst.id,
				 s->cfg->name);
			links |= s->linked;
			sensor_free(set, s);
		}
	}
	set->n = n;
	objs_prune(set, false);
	for (j = 0; j < c->nsensors; j++) {
		struct sensor *s;

		if (kept[j] || !c->sensors[j].drv)
			continue;
		s = sensor_new(set, &c->sensors[j]);
		if (!s) {
			log_err("[sensor.%s]: out of memory", c->sensors[j].name);
			continue;
		}
		log_info("%u/%u %s: added by the reload", s->type->oid, s->inst.id, s->cfg->name);
		links |= s->linked;
	}
	free(kept);
	uev_start(set);
	if (links)
		dm_links_changed(set->ag->dm);
}
