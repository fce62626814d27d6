/* ipso_sensor.c - the IPSO measuring objects: one generic object for every
 * single-value sensor (3300 Generic Sensor, 3301 Illuminance, 3303
 * Temperature, 3304 Humidity, 3315 Barometer, 3316 Voltage, 3317 Current,
 * 3323 Pressure, 3325 Concentration, 3328 Power, 3330 Distance) and one for
 * the three-axis ones (3313 Accelerometer, 3314 Magnetometer, 3334
 * Gyrometer), all object version 1.1.
 *
 * IPSO resource ids are the same in every object that has the resource
 * (5700 Sensor Value is 5700 everywhere), so one table of operations serves
 * them all; the dm checks each request against the object's own resource
 * table first.  Served: Sensor Value or X/Y/Z Value, Sensor Units, Min/Max
 * Measured Value (per axis on 3334) and their Reset, Min/Max Range Value
 * (from the config), Application Type (writable, saved), Sensor Type, and
 * Timestamp and Fractional Timestamp of the reading.  Not served (absent):
 * Current Calibration, Compass Direction and the quality indicators.  The
 * instances and their readings live in sensors.c. */
#include "sensors.h"

#include <math.h>
#include <string.h>

#include "cfg.h"
#include "oma/oma_3300.h"
#include "oma/oma_3334.h"

enum {
	RID_TIMESTAMP = OMA_3300_TIMESTAMP,             /* R, single, optional, time */
	RID_MIN = OMA_3300_MIN_MEASURED_VALUE,          /* R, single, optional, float */
	RID_MAX = OMA_3300_MAX_MEASURED_VALUE,          /* R, single, optional, float */
	RID_MIN_RANGE = OMA_3300_MIN_RANGE_VALUE,       /* R, single, optional, float */
	RID_MAX_RANGE = OMA_3300_MAX_RANGE_VALUE,       /* R, single, optional, float */
	RID_RESET = OMA_3300_RESET_MIN_AND_MAX_MEASURED_VALUES,        /* E, single, optional */
	RID_VALUE = OMA_3300_SENSOR_VALUE,              /* R, single, mandatory, float */
	RID_UNITS = OMA_3300_SENSOR_UNITS,              /* R, single, optional, string */
	RID_APP_TYPE = OMA_3300_APPLICATION_TYPE,       /* RW, single, optional, string */
	RID_SENSOR_TYPE = OMA_3300_SENSOR_TYPE,         /* R, single, optional, string */
	RID_FRACTION = OMA_3300_FRACTIONAL_TIMESTAMP,   /* R, single, optional, float, s */
	RID_X = OMA_3334_X_VALUE,                       /* R, single, mandatory, float */
	RID_Y = OMA_3334_Y_VALUE,                       /* R, single, optional, float */
	RID_Z = OMA_3334_Z_VALUE,                       /* R, single, optional, float */
	RID_MIN_X = OMA_3334_MIN_X_VALUE,               /* 5508..5513: R, single, optional, */
	RID_MAX_Z = OMA_3334_MAX_Z_VALUE,               /* float; min, max of x, y, z */
};

bool ipso_take(struct sensor *s, const double *v)
{
	bool changed = !s->have;
	int i, n = s->cfg->axes;

	for (i = 0; i < n; i++)
		changed |= s->v[i] != v[i];
	memcpy(s->v, v, (size_t)n * sizeof(*v));
	s->have = true;
	if (!s->have_mm) {
		memcpy(s->min, v, (size_t)n * sizeof(*v));
		memcpy(s->max, v, (size_t)n * sizeof(*v));
		s->have_mm = true;
		return true;
	}
	for (i = 0; i < n; i++) {
		if (v[i] < s->min[i])
			s->min[i] = v[i];
		if (v[i] > s->max[i])
			s->max[i] = v[i];
	}
	return changed;
}

static int out_float(struct dm_out *out, double f)
{
	struct dm_value v = dm_float(f);

	return dm_out_value(out, &v);
}

static int out_str(struct dm_out *out, const char *str)
{
	struct dm_value v;

	if (!str)
		return LWM_ENOTFOUND;
	v = dm_str(str);
	return dm_out_value(out, &v);
}

/* The resources both kinds share; LWM_ENOTFOUND for the others. */
static int common_read(struct sensor *s, uint16_t rid, struct dm_out *out)
{
	const struct cfg_sensor *c = s->cfg;
	struct dm_value v;
	int rc;

	switch (rid) {
	case RID_UNITS:
		return out_str(out, sensor_units(s));
	case RID_MIN_RANGE:
		return c->has_min_range ? out_float(out, c->min_range) : LWM_ENOTFOUND;
	case RID_MAX_RANGE:
		return c->has_max_range ? out_float(out, c->max_range) : LWM_ENOTFOUND;
	case RID_APP_TYPE:
		return out_str(out, sensor_app_type(s));
	case RID_SENSOR_TYPE:
		return out_str(out, c->sensor_type ? c->sensor_type : s->ch ? s->ch->desc :
				    c->drv->name);
	case RID_TIMESTAMP:
		if ((rc = sensor_fresh(s)))
			return rc;
		v = dm_time(s->wall / 1000);
		return dm_out_value(out, &v);
	case RID_FRACTION:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_float(out, (double)(s->wall % 1000) / 1000);
	}
	return LWM_ENOTFOUND;
}

static int value_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct sensor *s = sensor_of(inst);
	int rc;

	switch (rid) {
	case RID_VALUE:
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_float(out, s->v[0]);
	case RID_MIN:
	case RID_MAX:
		/* the extremes of readings taken; none yet while it never worked */
		sensor_fresh(s);
		if (!s->have_mm)
			return LWM_EUNAVAIL;
		return out_float(out, rid == RID_MIN ? s->min[0] : s->max[0]);
	}
	return common_read(s, rid, out);
}

static int axes_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct sensor *s = sensor_of(inst);
	int rc;

	if (rid >= RID_X && rid <= RID_Z) {
		if ((rc = sensor_fresh(s)))
			return rc;
		return out_float(out, s->v[rid - RID_X]);
	}
	if (rid >= RID_MIN_X && rid <= RID_MAX_Z) {
		int axis = (rid - RID_MIN_X) / 2;

		sensor_fresh(s);
		if (!s->have_mm)
			return LWM_EUNAVAIL;
		return out_float(out, (rid - RID_MIN_X) % 2 ? s->max[axis] : s->min[axis]);
	}
	return common_read(s, rid, out);
}

static int sensor_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
			const struct dm_value *v)
{
	if (rid != RID_APP_TYPE)
		return LWM_ENOTFOUND;   /* Current Calibration: not served */
	return sensor_set_app_type(sensor_of(inst), v->bytes.p, v->bytes.len);
}

static int sensor_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			  const char *args, size_t len)
{
	struct sensor *s = sensor_of(inst);

	if (rid != RID_RESET)
		return LWM_ENOTFOUND;
	/* to the current value (IPSO), or to nothing while there is none */
	s->have_mm = s->have && !s->failing;
	memcpy(s->min, s->v, sizeof(s->min));
	memcpy(s->max, s->v, sizeof(s->max));
	sensor_changed(s);
	return 0;
}

const struct dm_ops ipso_value_ops = {
	.read = value_read,
	.write = sensor_write,
	.execute = sensor_execute,
	.changed = sensors_obj_changed,
};

const struct dm_ops ipso_axes_ops = {
	.read = axes_read,
	.write = sensor_write,
	.execute = sensor_execute,
	.changed = sensors_obj_changed,
};
