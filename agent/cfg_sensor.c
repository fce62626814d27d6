/* cfg_sensor.c - the [sensor.NAME] sections of the config.
 *
 * cfg.c hands every line of a sensor section here as it reads it; the lines
 * are kept as written (key, value, line) and checked once the whole file is
 * read, because which keys a section may have depends on its object and
 * driver, which may come in any order.  Every problem is printed as
 * FILE:LINE: [sensor.NAME] key = "value": what was expected, and counted.
 * Hardware is not touched here except by cfg_sensors_probe() (warnings only,
 * for --check-config): a missing device is a runtime condition, not a config
 * error. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "err.h"
#include "sensors.h"

#define NAME_MAX_LEN 64
#define PERIOD_MIN 0.1          /* s */
#define PERIOD_MAX 86400.0      /* s */
#define PERIOD_DEFAULT 10.0     /* s */
#define DEBOUNCE_MAX 60000      /* ms */
#define TEXT_MAX 255            /* application_type, units, sensor_type */

/* Keys every section may have, and those of each kind of object. */
static const char *const common_keys[] = {
	"object", "driver", "instance", "period", "max_age", "application_type", "sensor_type",
	"present", NULL,
};
static const char *const value_keys[] = {
	"scale", "offset", "units", "min_range", "max_range", NULL,
};
static const char *const input_keys[] = { "debounce", "edge", NULL };
static const char *const output_keys[] = { "initial", NULL };

const char *cfg_sensor_get(const struct cfg_sensor *s, const char *key)
{
	size_t i = s->nkv;

	while (i--)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].val;
	return NULL;
}

static const struct cfg_kv *find_kv(const struct cfg_sensor *s, const char *key)
{
	size_t i = s->nkv;

	while (i--)
		if (!strcmp(s->kv[i].key, key))
			return &s->kv[i];
	return NULL;
}

static struct cfg_sensor *section(struct cfg *c, const char *name, int line)
{
	struct cfg_sensor *s;
	size_t i;

	/* a section's lines come together: look at the last one first */
	if (c->nsensors && !strcmp(c->sensors[c->nsensors - 1].name, name))
		return &c->sensors[c->nsensors - 1];
	for (i = 0; i < c->nsensors; i++)
		if (!strcmp(c->sensors[i].name, name))
			return &c->sensors[i];
	if ((c->nsensors & (c->nsensors - 1)) == 0) {
		/* full at each power of two: double */
		size_t cap = c->nsensors ? c->nsensors * 2 : 1;
		struct cfg_sensor *n = realloc(c->sensors, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->sensors = n;
	}
	s = &c->sensors[c->nsensors];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	if (!s->name)
		return NULL;
	s->file = c->path;
	s->line = line;
	c->nsensors++;
	return s;
}

int cfg_sensor_key(struct cfg *c, int line, const char *sec, const char *key, const char *val,
		   FILE *errf)
{
	const char *name = sec + 7;     /* after "sensor." */
	struct cfg_sensor *s;
	struct cfg_kv *kv;
	const char *p;

	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
			break;
	if (*p || p - name > NAME_MAX_LEN) {
		/* reported once, at its header or first key */
		if (c->nsensors && !strcmp(c->sensors[c->nsensors - 1].name, name))
			return 0;
		s = section(c, name, line);
		if (s)
			s->oid = 0xFFFF;        /* marks it: checked no further */
		fprintf(errf, "%s:%d: [%s]: a sensor name has 1..%d letters, digits, _ - or .\n",
			c->path, line, sec, NAME_MAX_LEN);
		return 1;
	}
	s = section(c, name, line);
	if (!s)
		goto oom;
	if (!key)
		return 0;
	if ((s->nkv & (s->nkv - 1)) == 0) {
		size_t cap = s->nkv ? s->nkv * 2 : 1;

		kv = realloc(s->kv, cap * sizeof(*kv));
		if (!kv)
			goto oom;
		s->kv = kv;
	}
	kv = &s->kv[s->nkv];
	kv->key = strdup(key);
	kv->val = strdup(val);
	kv->line = line;
	if (!kv->key || !kv->val) {
		free(kv->key);
		free(kv->val);
		goto oom;
	}
	s->nkv++;
	return 0;
oom:
	fprintf(errf, "%s:%d: [%s]: out of memory\n", c->path, line, sec);
	return 1;
}

/* ---- checks ------------------------------------------------------------ */

struct checker {
	struct cfg *c;
	FILE *errf;
	int errors;
};

static void __attribute__((format(printf, 4, 5)))
kv_error(struct checker *k, const struct cfg_sensor *s, const struct cfg_kv *kv,
	 const char *fmt, ...)
{
	va_list ap;

	k->errors++;
	if (kv)
		fprintf(k->errf, "%s:%d: [sensor.%s] %s = \"%s\": ", k->c->path, kv->line, s->name,
			kv->key, kv->val);
	else
		fprintf(k->errf, "%s:%d: [sensor.%s]: ", k->c->path, s->line, s->name);
	va_start(ap, fmt);
	vfprintf(k->errf, fmt, ap);
	va_end(ap);
	fputc('\n', k->errf);
}

static bool in_list(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (!strcmp(*list, key))
			return true;
	return false;
}

/* Parses a finite number; false (and an error) if it is not one. */
static bool number(struct checker *k, const struct cfg_sensor *s, const char *key, double *out)
{
	const struct cfg_kv *kv = find_kv(s, key);
	char *end;
	double v;

	if (!kv)
		return false;
	errno = 0;
	v = strtod(kv->val, &end);
	if (end == kv->val || *end || errno || !isfinite(v)) {
		kv_error(k, s, kv, "expected a number");
		return false;
	}
	*out = v;
	return true;
}

/* Seconds with a fraction, as milliseconds within min..max s. */
static void seconds(struct checker *k, const struct cfg_sensor *s, const char *key, double min,
		    double max, uint32_t *ms)
{
	double v;

	if (!number(k, s, key, &v))
		return;
	if (v < min || v > max) {
		kv_error(k, s, find_kv(s, key), "out of range (%g..%g s)", min, max);
		return;
	}
	*ms = (uint32_t)llround(v * 1000);
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

static void check_keys(struct checker *k, struct cfg_sensor *s, const struct ipso_type *t)
{
	const char *const *kind_keys = NULL;
	size_t i, j;

	if (t)
		kind_keys = t->kind == IPSO_INPUT ? input_keys :
			    t->kind == IPSO_OUTPUT ? output_keys : value_keys;
	for (i = 0; i < s->nkv; i++) {
		const struct cfg_kv *kv = &s->kv[i];

		for (j = 0; j < i && strcmp(s->kv[j].key, kv->key); j++)
			;
		if (j < i) {
			kv_error(k, s, kv, "set twice (first at line %d)", s->kv[j].line);
			continue;
		}
		if (in_list(common_keys, kv->key) || (kind_keys && in_list(kind_keys, kv->key)) ||
		    (s->drv && in_list(s->drv->keys, kv->key)))
			continue;
		if (!t || !s->drv) {
			/* cannot tell yet: only keys no sensor has at all */
			if (in_list(value_keys, kv->key) || in_list(input_keys, kv->key) ||
			    in_list(output_keys, kv->key) || in_list(drv_sim.keys, kv->key) ||
			    in_list(drv_hwmon.keys, kv->key) || in_list(drv_thermal.keys, kv->key) ||
			    in_list(drv_iio.keys, kv->key) || in_list(drv_gpio.keys, kv->key))
				continue;
			kv_error(k, s, kv, "unknown key");
		} else if (in_list(value_keys, kv->key) || in_list(input_keys, kv->key) ||
			   in_list(output_keys, kv->key)) {
			kv_error(k, s, kv, "not a key of %u (%s)", t->oid, t->name);
		} else {
			kv_error(k, s, kv, "unknown key for driver = %s", s->drv->name);
		}
	}
}

static const char *article(const char *word)
{
	return strchr("aeiou", word[0]) ? "an" : "a";
}

/* The channel must measure what the object reports. */
static void check_fit(struct checker *k, struct cfg_sensor *s, const struct ipso_type *t,
		      const struct drv_info *info)
{
	const struct cfg_kv *kv = find_kv(s, "channel");
	bool digital = t->kind == IPSO_INPUT || t->kind == IPSO_OUTPUT;
	const char *q = drv_qty_name(info->qty);

	if (!kv)
		kv = find_kv(s, "driver");
	if (info->qty == DRV_Q_ANY)
		return;
	if (digital != (info->qty == DRV_Q_DIGITAL)) {
		kv_error(k, s, find_kv(s, "driver"), "%s driver cannot feed %u (%s)",
			 digital ? "a measuring" : "a GPIO", t->oid, t->name);
		return;
	}
	if (t->qty != DRV_Q_OTHER && t->qty != info->qty) {
		kv_error(k, s, kv, "%s %s channel; %u (%s) needs %s", article(q), q, t->oid,
			 t->name, drv_qty_name(t->qty));
		return;
	}
	if (info->axes != s->axes) {
		if (s->axes == 3)
			kv_error(k, s, kv, "one axis; %u (%s) takes the three: name the type alone "
				 "(accel, anglvel, magn)", t->oid, t->name);
		else
			kv_error(k, s, kv, "three axes; %u (%s) takes one: name the axis (e.g. "
				 "accel_x) or use 3313, 3314 or 3334", t->oid, t->name);
	}
}

static void check_common(struct checker *k, struct cfg_sensor *s, const struct ipso_type *t)
{
	const struct cfg_kv *kv;
	double v;

	s->period_ms = (uint32_t)(PERIOD_DEFAULT * 1000);
	seconds(k, s, "period", PERIOD_MIN, PERIOD_MAX, &s->period_ms);
	s->max_age_ms = s->period_ms;
	seconds(k, s, "max_age", 0, PERIOD_MAX, &s->max_age_ms);
	s->scale = 1;
	number(k, s, "scale", &s->scale);
	number(k, s, "offset", &s->offset);
	s->has_min_range = number(k, s, "min_range", &s->min_range);
	s->has_max_range = number(k, s, "max_range", &s->max_range);
	if (s->has_min_range && s->has_max_range && s->min_range >= s->max_range)
		kv_error(k, s, find_kv(s, "max_range"), "not above min_range (%g)", s->min_range);
	if ((kv = find_kv(s, "instance"))) {
		char *end;
		long n;

		errno = 0;
		n = strtol(kv->val, &end, 10);
		if (!isdigit((unsigned char)kv->val[0]) || *end || errno || n > DM_MAX_ID)
			kv_error(k, s, kv, "expected an instance id (0..%u)", DM_MAX_ID);
		else
			s->iid = (uint16_t)n;
	}
	if ((kv = find_kv(s, "present"))) {
		if (!strcmp(kv->val, "device"))
			s->present_device = true;
		else if (strcmp(kv->val, "always"))
			kv_error(k, s, kv, "expected always (the instance answers 5.03 while its "
				 "device is missing) or device (it exists only with its device)");
	}
	s->application_type = cfg_sensor_get(s, "application_type");
	s->units = cfg_sensor_get(s, "units");
	s->sensor_type = cfg_sensor_get(s, "sensor_type");
	for (const char *const *key = (const char *const[]){ "application_type", "units",
							     "sensor_type", NULL };
	     *key; key++)
		if ((kv = find_kv(s, *key)) && strlen(kv->val) > TEXT_MAX)
			kv_error(k, s, kv, "longer than %d characters", TEXT_MAX);
	s->edge = 2;
	if ((kv = find_kv(s, "edge"))) {
		if (!strcmp(kv->val, "falling"))
			s->edge = 1;
		else if (!strcmp(kv->val, "rising"))
			s->edge = 2;
		else if (!strcmp(kv->val, "both"))
			s->edge = 3;
		else
			kv_error(k, s, kv, "expected rising, falling or both");
	}
	if (number(k, s, "debounce", &v)) {
		if (v < 0 || v > DEBOUNCE_MAX || v != floor(v))
			kv_error(k, s, find_kv(s, "debounce"), "expected whole milliseconds (0..%d)",
				 DEBOUNCE_MAX);
		else
			s->debounce_ms = (uint32_t)v;
	}
	if ((kv = find_kv(s, "initial")) && !parse_bool(kv->val, &s->initial))
		kv_error(k, s, kv, "expected on or off");
	(void)t;
}

/* Instances without an explicit id get the lowest free ones of their object,
 * in file order.  One bitmap of ids per object, so a thousand sensors cost
 * no more than a thousand look-ups. */
static void assign_instances(struct checker *k, struct cfg *c)
{
	uint8_t *used = malloc((DM_MAX_ID + 8) / 8);
	size_t i, j;

	if (!used) {
		k->errors++;
		fprintf(k->errf, "%s: out of memory\n", c->path);
		return;
	}
	for (i = 0; i < c->nsensors; i++) {
		uint16_t oid = c->sensors[i].oid, id = 0;
		bool first = true;

		if (!c->sensors[i].drv)
			continue;
		for (j = 0; j < i; j++)
			if (c->sensors[j].drv && c->sensors[j].oid == oid)
				first = false;
		if (!first)
			continue;       /* this object's ids were given out already */
		memset(used, 0, (DM_MAX_ID + 8) / 8);
		for (j = i; j < c->nsensors; j++) {
			struct cfg_sensor *s = &c->sensors[j];
			const struct cfg_kv *kv = find_kv(s, "instance");
			size_t o;

			if (!s->drv || s->oid != oid || !kv)
				continue;
			if (used[s->iid / 8] & (1u << (s->iid % 8))) {
				for (o = i; o < j; o++)
					if (c->sensors[o].drv && c->sensors[o].oid == oid &&
					    find_kv(&c->sensors[o], "instance") &&
					    c->sensors[o].iid == s->iid)
						break;
				kv_error(k, s, kv, "%u/%u is [sensor.%s] already (line %d)", oid,
					 s->iid, c->sensors[o].name, c->sensors[o].line);
			}
			used[s->iid / 8] |= (uint8_t)(1u << (s->iid % 8));
		}
		for (j = i; j < c->nsensors; j++) {
			struct cfg_sensor *s = &c->sensors[j];

			if (!s->drv || s->oid != oid || find_kv(s, "instance"))
				continue;
			while (id < DM_MAX_ID && (used[id / 8] & (1u << (id % 8))))
				id++;
			if (id >= DM_MAX_ID) {
				kv_error(k, s, NULL, "no free instance id left in %u", oid);
				continue;
			}
			s->iid = id;
			used[id / 8] |= (uint8_t)(1u << (id % 8));
		}
	}
	free(used);
}

int cfg_sensors_check(struct cfg *c, FILE *errf)
{
	struct checker k = { .c = c, .errf = errf };
	size_t i, j;

	for (i = 0; i < c->nsensors; i++) {
		struct cfg_sensor *s = &c->sensors[i];
		const struct ipso_type *t = NULL;
		const struct cfg_kv *obj, *drv;
		struct drv_info info = { .axes = 1 };
		struct errbuf err = { "" };
		const char *badkey = NULL;

		if (s->oid == 0xFFFF)
			continue;       /* a bad name, reported */
		obj = find_kv(s, "object");
		drv = find_kv(s, "driver");
		if (!obj) {
			kv_error(&k, s, NULL, "object is missing: expected %s", ipso_type_ids());
		} else {
			char *end;
			long oid = strtol(obj->val, &end, 10);

			t = *end || end == obj->val || oid < 0 || oid > 65535 ? NULL :
			    ipso_type_find((uint16_t)oid);
			if (!t)
				kv_error(&k, s, obj, "unknown object: expected %s", ipso_type_ids());
		}
		if (!drv)
			kv_error(&k, s, NULL, "driver is missing: expected %s", drv_names());
		else if (!(s->drv = drv_find(drv->val)))
			kv_error(&k, s, drv, "unknown driver: expected %s", drv_names());
		check_keys(&k, s, t);
		if (t) {
			s->oid = t->oid;
			s->axes = t->kind == IPSO_AXES ? 3 : 1;
			s->output = t->kind == IPSO_OUTPUT;
		}
		check_common(&k, s, t);
		if (!t || !s->drv) {
			s->drv = NULL;          /* not a sensor anyone will build */
			continue;
		}
		if (s->drv->check(s, &info, &badkey, &err)) {
			kv_error(&k, s, badkey ? find_kv(s, badkey) : NULL, "%s", err.msg);
			continue;
		}
		check_fit(&k, s, t, &info);
		if (!info.exclusive[0])
			continue;
		/* two sections on one line: the kernel would refuse the second
		 * request at start; say so now, with both places */
		for (j = 0; j < i; j++) {
			struct cfg_sensor *o = &c->sensors[j];
			struct drv_info oi = { .axes = 1 };
			const char *ok = NULL;

			if (o->drv != s->drv || o->drv->check(o, &oi, &ok, &err) ||
			    strcmp(oi.exclusive, info.exclusive))
				continue;
			kv_error(&k, s, find_kv(s, "line"), "%s is used by [sensor.%s] already "
				 "(line %d)", info.exclusive, o->name, o->line);
			break;
		}
	}
	assign_instances(&k, c);
	return k.errors;
}

int cfg_sensors_probe(const struct cfg *c, FILE *errf)
{
	size_t i;
	int n = 0;

	for (i = 0; i < c->nsensors; i++) {
		const struct cfg_sensor *s = &c->sensors[i];
		struct errbuf err = { "" };

		if (!s->drv || !drv_probe(s->drv, s, &err))
			continue;
		fprintf(errf, "%s:%d: [sensor.%s]: warning: %s; %s\n", c->path, s->line, s->name,
			err.msg, s->present_device ? "the instance appears when the device does" :
			"the instance answers 5.03 until the device appears");
		n++;
	}
	return n;
}

void cfg_sensors_free(struct cfg *c)
{
	size_t i, j;

	for (i = 0; i < c->nsensors; i++) {
		struct cfg_sensor *s = &c->sensors[i];

		for (j = 0; j < s->nkv; j++) {
			free(s->kv[j].key);
			free(s->kv[j].val);
		}
		free(s->kv);
		free(s->name);
	}
	free(c->sensors);
	c->sensors = NULL;
	c->nsensors = 0;
}
