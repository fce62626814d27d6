/* digital_io.c - the IPSO digital objects, fed by GPIO lines (or sim):
 * inputs 3200 Digital Input, 3342 On/Off switch and 3347 Push button;
 * outputs 3201 Digital Output and 3306 Actuation; all object version 1.1.
 *
 * Inputs: a level (an edge from the line's event fd, or a sampled reading)
 * goes through the debounce: it counts once it has held for Debounce ms
 * (5503; 0 takes every edge).  The state (5500) is that level through
 * Polarity (5502).  The counter (5501) counts the transitions Edge Selection
 * (5504: 1 falling, 2 rising, 3 both; default rising) picks, so by default
 * how often the input became active.  Counter Reset (5505) zeroes it.
 * 3342's On Time and Off Time (5852, 5854) are the seconds accumulated in
 * each state since start or since the server wrote 0.
 *
 * Outputs: the server writes the state (5550 / 5850); the line is driven to
 * the state through Polarity (5551).  A write while the line is missing is
 * 5.03 and changes nothing.  3306's On Time counts like 3342's; Dimmer and
 * Multi-state Output are not served. */
#include "sensors.h"

#include <string.h>

#include "cfg.h"
#include "oma/oma_3200.h"
#include "oma/oma_3201.h"
#include "oma/oma_3306.h"
#include "oma/oma_3342.h"

enum {
	RID_IN_STATE = OMA_3200_DIGITAL_INPUT_STATE,            /* R, single, mandatory, bool */
	RID_IN_COUNTER = OMA_3200_DIGITAL_INPUT_COUNTER,        /* R, single, optional, int */
	RID_IN_POLARITY = OMA_3200_DIGITAL_INPUT_POLARITY,      /* RW, single, optional, bool */
	RID_IN_DEBOUNCE = OMA_3200_DIGITAL_INPUT_DEBOUNCE,      /* RW, single, optional, int ms */
	RID_IN_EDGE = OMA_3200_DIGITAL_INPUT_EDGE_SELECTION,    /* RW, single, optional, 1..3 */
	RID_IN_RESET = OMA_3200_DIGITAL_INPUT_COUNTER_RESET,    /* E, single, optional */
	RID_TIMESTAMP = OMA_3200_TIMESTAMP,                     /* R, single, optional, time */
	RID_APP_TYPE = OMA_3200_APPLICATION_TYPE,               /* RW, single, optional, string */
	RID_SENSOR_TYPE = OMA_3200_SENSOR_TYPE,                 /* R, single, optional, string */
	RID_FRACTION = OMA_3200_FRACTIONAL_TIMESTAMP,           /* R, single, optional, float */
	RID_OUT_STATE = OMA_3201_DIGITAL_OUTPUT_STATE,          /* RW, single, mandatory, bool */
	RID_OUT_POLARITY = OMA_3201_DIGITAL_OUTPUT_POLARITY,    /* RW, single, optional, bool */
	RID_ON_OFF = OMA_3306_ON_OFF,                           /* RW, single, mandatory, bool */
	RID_ON_TIME = OMA_3342_ON_TIME,                         /* RW, single, optional, int s */
	RID_OFF_TIME = OMA_3342_OFF_TIME,                       /* RW, single, optional, int s */
};

#define DEBOUNCE_MAX 60000      /* ms */

/* ---- debounce ------------------------------------------------------------- */

bool debounce_feed(struct debounce *d, bool level, uint64_t t, uint32_t ms)
{
	if (level != d->raw) {
		d->raw = level;
		d->since = t;
	}
	return debounce_settle(d, t, ms);
}

bool debounce_settle(struct debounce *d, uint64_t now, uint32_t ms)
{
	if (d->raw == d->stable || now < d->since + ms)
		return false;
	d->stable = d->raw;
	return true;
}

/* ---- inputs ----------------------------------------------------------------- */

/* Books a change of the accepted level at monotonic time t. */
static void input_changed(struct sensor *s, uint64_t t)
{
	bool old = s->state, now = s->db.stable != s->polarity;
	uint64_t mono;

	if (old == now)
		return;
	if (old)
		s->on_ms += t - s->state_since;
	else
		s->off_ms += t - s->state_since;
	s->state = now;
	s->state_since = t;
	mono = loop_now();
	s->changed_wall = loop_wall() - (int64_t)(mono > t ? mono - t : 0);
	if ((now && (s->edge & 2)) || (!now && (s->edge & 1)))
		s->counter++;
}

bool digital_input_level(struct sensor *s, bool raw, uint64_t t)
{
	if (!s->have_level) {
		/* the first level seen is the starting point, not an edge */
		s->db = (struct debounce){ .stable = raw, .raw = raw, .since = t };
		s->state = raw != s->polarity;
		s->state_since = t;
		s->have_level = true;
		return true;
	}
	if (!debounce_feed(&s->db, raw, t, s->debounce_ms))
		return false;
	input_changed(s, t);
	return true;
}

bool digital_input_settle(struct sensor *s, uint64_t now)
{
	uint64_t at = s->db.since + s->debounce_ms;

	if (!s->have_level || !debounce_settle(&s->db, now, s->debounce_ms))
		return false;
	input_changed(s, at);
	return true;
}

uint64_t digital_input_due(const struct sensor *s)
{
	return s->have_level && s->db.raw != s->db.stable ? s->db.since + s->debounce_ms : 0;
}

/* Seconds accumulated in state on (true) or off, up to now. */
static int64_t time_in(const struct sensor *s, bool on)
{
	uint64_t ms = on ? s->on_ms : s->off_ms;

	if (s->state == on)
		ms += loop_now() - s->state_since;
	return (int64_t)(ms / 1000);
}

static int out_value(struct dm_out *out, struct dm_value v)
{
	return dm_out_value(out, &v);
}

static int out_str(struct dm_out *out, const char *str)
{
	return str ? out_value(out, dm_str(str)) : LWM_ENOTFOUND;
}

static int common_read(struct sensor *s, uint16_t rid, struct dm_out *out)
{
	int rc;

	switch (rid) {
	case RID_APP_TYPE:
		return out_str(out, sensor_app_type(s));
	case RID_SENSOR_TYPE:
		return out_str(out, s->cfg->sensor_type ? s->cfg->sensor_type :
				    s->ch ? s->ch->desc : s->cfg->drv->name);
	case RID_TIMESTAMP:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_value(out, dm_time(s->changed_wall / 1000));
	case RID_FRACTION:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_value(out, dm_float((double)(s->changed_wall % 1000) / 1000));
	case RID_ON_TIME:
		return out_value(out, dm_int(time_in(s, true)));
	case RID_OFF_TIME:
		return out_value(out, dm_int(time_in(s, false)));
	}
	return LWM_ENOTFOUND;
}

static int input_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct sensor *s = sensor_of(inst);
	int rc;

	switch (rid) {
	case RID_IN_STATE:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_value(out, dm_bool(s->state));
	case RID_IN_COUNTER:
		return out_value(out, dm_int(s->counter));
	case RID_IN_POLARITY:
		return out_value(out, dm_bool(s->polarity));
	case RID_IN_DEBOUNCE:
		return out_value(out, dm_int(s->debounce_ms));
	case RID_IN_EDGE:
		return out_value(out, dm_int(s->edge));
	}
	return common_read(s, rid, out);
}

/* 5852/5854: only 0 may be written, which restarts the count. */
static int reset_time(struct sensor *s, const struct dm_value *v, bool on)
{
	uint64_t now = loop_now();

	if (v->i != 0)
		return LWM_EBADREQ;
	/* what was accumulated goes to the other count's history: none */
	if (s->state)
		s->on_ms += now - s->state_since;
	else
		s->off_ms += now - s->state_since;
	s->state_since = now;
	if (on)
		s->on_ms = 0;
	else
		s->off_ms = 0;
	return 0;
}

static int input_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
		       const struct dm_value *v)
{
	struct sensor *s = sensor_of(inst);

	switch (rid) {
	case RID_IN_POLARITY:
		if (v->b != s->polarity) {
			s->polarity = v->b;
			s->state = !s->state;   /* the same line, read the other way */
		}
		return 0;
	case RID_IN_DEBOUNCE:
		if (v->i < 0 || v->i > DEBOUNCE_MAX)
			return LWM_EBADREQ;
		s->debounce_ms = (uint32_t)v->i;
		return 0;
	case RID_IN_EDGE:
		if (v->i < 1 || v->i > 3)
			return LWM_EBADREQ;
		s->edge = (uint8_t)v->i;
		return 0;
	case RID_APP_TYPE:
		return sensor_set_app_type(s, v->bytes.p, v->bytes.len);
	case RID_ON_TIME:
	case RID_OFF_TIME:
		return reset_time(s, v, rid == RID_ON_TIME);
	}
	return LWM_ENOTFOUND;
}

static int input_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			 const char *args, size_t len)
{
	struct sensor *s = sensor_of(inst);

	if (rid != RID_IN_RESET)
		return LWM_ENOTFOUND;
	s->counter = 0;
	sensor_changed(s);
	return 0;
}

const struct dm_ops ipso_input_ops = {
	.read = input_read,
	.write = input_write,
	.execute = input_execute,
	.changed = sensors_obj_changed,
};

/* ---- outputs ----------------------------------------------------------------- */

void digital_output_applied(struct sensor *s, bool state)
{
	uint64_t now = loop_now();

	if (state == s->state)
		return;
	if (s->state)
		s->on_ms += now - s->state_since;
	else
		s->off_ms += now - s->state_since;
	s->state = state;
	s->state_since = now;
	s->changed_wall = loop_wall();
}

static int output_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct sensor *s = sensor_of(inst);
	int rc;

	switch (rid) {
	case RID_OUT_STATE:
	case RID_ON_OFF:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_value(out, dm_bool(s->state));
	case RID_OUT_POLARITY:
		return out_value(out, dm_bool(s->polarity));
	case RID_OFF_TIME:
		return LWM_ENOTFOUND;   /* not an Actuation resource */
	}
	return common_read(s, rid, out);
}

static int output_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
			const struct dm_value *v)
{
	struct sensor *s = sensor_of(inst);
	int rc;

	switch (rid) {
	case RID_OUT_STATE:
	case RID_ON_OFF:
		if ((rc = sensor_drive(s, v->b != s->polarity)))
			return rc;
		digital_output_applied(s, v->b);
		return 0;
	case RID_OUT_POLARITY:
		if (v->b != s->polarity) {
			if ((rc = sensor_drive(s, s->state != v->b)))
				return rc;
			s->polarity = v->b;
		}
		return 0;
	case RID_APP_TYPE:
		return sensor_set_app_type(s, v->bytes.p, v->bytes.len);
	case RID_ON_TIME:
		return reset_time(s, v, true);
	}
	return LWM_ENOTFOUND;
}

const struct dm_ops ipso_output_ops = {
	.read = output_read,
	.write = output_write,
	.changed = sensors_obj_changed,
};
