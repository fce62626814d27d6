/* sensors.h - the [sensor.NAME] sections as IPSO object instances.
 *
 * objects/sensors.c keeps one instance per section: its driver channel
 * (opened at start, reopened after a failure or when the device comes back),
 * sampling on loop timers shared by every sensor with the same period,
 * on-demand samples when a value is older than max_age, one log line when a
 * sensor fails and one when it recovers, and the settings the server wrote
 * (Application Type, polarity, debounce, edge selection) kept in
 * STATE_DIR/sensors.json.  The object files (ipso_sensor.c for the values and
 * the three-axis objects, digital_io.c for the lines) turn an instance's
 * state into resources and back. */
#ifndef LWM_SENSORS_H
#define LWM_SENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm.h"
#include "drv.h"
#include "loop.h"

struct agent;
struct cfg;
struct cfg_sensor;
struct sensors;

/* ---- the object types ---------------------------------------------------- */

enum ipso_kind {
	IPSO_VALUE,             /* one reading: Sensor Value, min/max, units */
	IPSO_AXES,              /* X/Y/Z Value */
	IPSO_INPUT,             /* a digital input: state and counter */
	IPSO_OUTPUT,            /* a digital output: state written by the server */
};

struct ipso_type {
	uint16_t oid;
	const char *name;               /* "Temperature" */
	enum ipso_kind kind;
	/* what a channel must measure: DRV_Q_OTHER takes any measured
	 * quantity (3300), DRV_Q_DIGITAL a line */
	enum drv_qty qty;
	const struct dm_res_def *res;
	size_t nres;
	const struct dm_ops *ops;
};

/* The type of object oid, or NULL if no sensor object has that id. */
const struct ipso_type *ipso_type_find(uint16_t oid);
/* "3300, 3301, ... or 3347", for messages. */
const char *ipso_type_ids(void);

/* The operations of the objects (ipso_sensor.c, digital_io.c). */
extern const struct dm_ops ipso_value_ops, ipso_axes_ops, ipso_input_ops, ipso_output_ops;

/* ---- one instance -------------------------------------------------------- */

/* Debounce of a digital input: a new level counts once it has held for the
 * debounce time (objects/digital_io.c). */
struct debounce {
	bool stable;            /* the accepted level */
	bool raw;               /* the last level seen */
	uint64_t since;         /* monotonic ms when raw last changed */
};

struct sensor {
	struct dm_inst inst;
	struct sensors *set;
	struct dm_obj *obj;
	const struct ipso_type *type;
	const struct cfg_sensor *cfg;   /* the config's; replaced on reload */
	struct drv_channel *ch;         /* NULL while the device is missing */
	struct loop_fd lf;              /* ch's event fd, watched while open */
	struct loop_timer later;        /* a deferred change notice or debounce check */
	struct sensor *next;            /* in its period group */
	uint64_t last_try;              /* monotonic ms of the last open attempt */
	bool linked;                    /* the instance is visible */
	bool failing;                   /* logged as failing; 5.03 */
	bool fd_watched;
	bool pending_change;            /* `later` is to call dm_changed */
	char *app_type;                 /* written by the server; NULL: the config's */

	/* the latest reading, after scale and offset */
	bool have;
	double v[DRV_MAX_AXES];
	uint64_t t;                     /* monotonic ms it was taken */
	int64_t wall;                   /* ms since the epoch */

	/* IPSO_VALUE, IPSO_AXES: extremes since start or the last reset */
	bool have_mm;
	double min[DRV_MAX_AXES], max[DRV_MAX_AXES];

	/* IPSO_INPUT, IPSO_OUTPUT */
	bool have_level;                /* inputs: a first level was seen */
	struct debounce db;
	bool state;                     /* after polarity (inputs), as written (outputs) */
	bool polarity;                  /* 5502 / 5551 */
	uint32_t debounce_ms;           /* 5503 */
	uint8_t edge;                   /* 5504: 1 falling, 2 rising, 3 both */
	int64_t counter;                /* 5501 */
	int64_t changed_wall;           /* ms since the epoch of the last state change */
	uint64_t on_ms, off_ms;         /* time accumulated on and off (5852, 5854) */
	uint64_t state_since;           /* monotonic ms of the last state change */
};

/* For the object files: the instance behind inst. */
static inline struct sensor *sensor_of(struct dm_inst *inst)
{
	return container_of(inst, struct sensor, inst);
}

/* Makes the reading of s current: samples when it is older than max_age.
 * 0, or LWM_EUNAVAIL while the sensor fails or its device is missing. */
int sensor_fresh(struct sensor *s);
/* Drives an output to level (its physical value, after polarity): 0 or
 * LWM_EUNAVAIL (logged). */
int sensor_drive(struct sensor *s, bool level);
/* Application Type: what the server wrote, else the config's; NULL if none. */
const char *sensor_app_type(const struct sensor *s);
/* Sets it (len bytes, not NUL-terminated); 0, LWM_EBADREQ or LWM_EINTERNAL. */
int sensor_set_app_type(struct sensor *s, const uint8_t *p, size_t len);
/* The unit of s's readings: the config's units, else the quantity's, else
 * the object's usual one; NULL if none is known. */
const char *sensor_units(const struct sensor *s);
/* Tells observers that s changed now (not from inside a read). */
void sensor_changed(struct sensor *s);
/* Saves the server-written settings of every sensor (dm_ops.changed). */
void sensors_obj_changed(struct dm_obj *obj, struct dm_inst *inst);

/* digital_io.c: what a reading or an edge means for a digital input, and the
 * debounce arithmetic (exported for sensors.c and the unit tests). */
bool digital_input_level(struct sensor *s, bool raw, uint64_t t);
bool digital_input_settle(struct sensor *s, uint64_t now);
uint64_t digital_input_due(const struct sensor *s);
void digital_output_applied(struct sensor *s, bool state);
bool debounce_feed(struct debounce *d, bool level, uint64_t t, uint32_t ms);
bool debounce_settle(struct debounce *d, uint64_t now, uint32_t ms);
/* ipso_sensor.c: takes a reading into s (min/max); true if it changed. */
bool ipso_take(struct sensor *s, const double *v);

/* ---- the set --------------------------------------------------------------- */

/* Builds and registers one object per configured sensor type, opens every
 * channel and starts sampling.  NULL after logging why (out of memory).
 * Sensors whose device is missing are logged and retried, not fatal. */
struct sensors *sensors_new(struct agent *ag);
/* Unregisters the objects, releases every device; NULL is a no-op. */
void sensors_free(struct sensors *set);
/* After a reload: the new config c replaces the old one (which is freed
 * after this returns).  Unchanged sections keep their instances and state;
 * changed, added or removed ones are rebuilt (the registration is updated). */
void sensors_reload(struct sensors *set, const struct cfg *c);

#endif
