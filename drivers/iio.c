/* iio.c - Industrial I/O sensors through libiio's local backend (0.24).
 *
 * device = the IIO device's name or label ("bme280", "tmp006"), its id
 * ("iio:device0"), or a sysfs device path ("/sys/bus/i2c/devices/1-0076")
 * for devices named after their bus address (tmp006 on Linux 6.1 is
 * "1-0040").  channel = the channel id as sysfs spells it, with or without
 * the "in_" prefix: temp, humidityrelative, pressure, illuminance, voltage0,
 * accel_x ...; for the three-axis objects the type alone (accel, anglvel,
 * magn) takes its _x, _y and _z channels.  axes = the chip's axes in the
 * order X, Y and Z Value take them, each once, "-" to invert one ("y -x z":
 * a chip mounted a quarter turn round its z axis); default "x y z".
 *
 * A reading is the channel's "input" attribute when it has one, else
 * (raw + offset) * scale as the IIO ABI defines them (offset 0 and scale 1
 * when absent), then converted from the ABI's unit to the IPSO one:
 * millidegrees -> °C, milli-percent -> %RH, kPa -> hPa, mV -> V, mA -> A,
 * mW -> W, percent -> ppm; lux, m/s², rad/s, gauss and metres stay.
 *
 * Each open channel holds its own local context (libiio scans the devices
 * present when it is created): a device bound later is only found by a new
 * context, so a failed channel is closed and opened again by its owner. */
#include "drv.h"

#include <errno.h>
#include <iio.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "dynlib.h"
#include "err.h"

/* libiio is loaded by the first iio sensor that opens (dynlib.h): it maps
 * libxml2, ICU, avahi and dbus, megabytes a gateway without IIO sensors
 * should not carry. */
#define IIO_FUNCS(X) \
	X(iio_channel_attr_read_double) \
	X(iio_channel_find_attr) \
	X(iio_channel_get_id) \
	X(iio_context_destroy) \
	X(iio_context_get_device) \
	X(iio_context_get_devices_count) \
	X(iio_create_local_context) \
	X(iio_device_find_channel) \
	X(iio_device_get_id) \
	X(iio_device_get_label) \
	X(iio_device_get_name)
static struct { IIO_FUNCS(DYNLIB_MEMBER) } libiio;
#define IIO_SYM(f) DYNLIB_ENTRY(libiio, f)
static const struct dynlib_sym libiio_syms[] = { IIO_FUNCS(IIO_SYM) };
#define iio_channel_attr_read_double libiio.p_iio_channel_attr_read_double
#define iio_channel_find_attr libiio.p_iio_channel_find_attr
#define iio_channel_get_id libiio.p_iio_channel_get_id
#define iio_context_destroy libiio.p_iio_context_destroy
#define iio_context_get_device libiio.p_iio_context_get_device
#define iio_context_get_devices_count libiio.p_iio_context_get_devices_count
#define iio_create_local_context libiio.p_iio_create_local_context
#define iio_device_find_channel libiio.p_iio_device_find_channel
#define iio_device_get_id libiio.p_iio_device_get_id
#define iio_device_get_label libiio.p_iio_device_get_label
#define iio_device_get_name libiio.p_iio_device_get_name

static const struct {
	const char *type;       /* sysfs channel type */
	enum drv_qty qty;
	double factor;          /* ABI unit -> drv unit */
	bool axes;              /* has x/y/z modifiers */
} types[] = {
	{ "temp", DRV_Q_TEMP, 1e-3, false },
	{ "humidityrelative", DRV_Q_HUMIDITY, 1e-3, false },
	{ "pressure", DRV_Q_PRESSURE, 10, false },
	{ "voltage", DRV_Q_VOLTAGE, 1e-3, false },
	{ "current", DRV_Q_CURRENT, 1e-3, false },
	{ "power", DRV_Q_POWER, 1e-3, false },
	{ "illuminance", DRV_Q_ILLUMINANCE, 1, false },
	{ "distance", DRV_Q_DISTANCE, 1, false },
	{ "concentration", DRV_Q_CONCENTRATION, 1e4, false },
	{ "accel", DRV_Q_ACCEL, 1, true },
	{ "anglvel", DRV_Q_GYRO, 1, true },
	{ "magn", DRV_Q_MAGN, 1, true },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

/* What a channel id says without hardware. */
struct chan_spec {
	char id[64];            /* without "in_" */
	enum drv_qty qty;
	double factor;
	int axes;               /* 3: id is a type whose _x _y _z are read */
	int map[DRV_MAX_AXES];  /* X, Y, Z Value read the chip's axis map[i] ... */
	double sign[DRV_MAX_AXES];      /* ... times sign[i] */
};

struct axis {
	struct iio_channel *ch;
	bool input;             /* has a processed "input" attribute */
};

struct iio {
	struct iio_context *ctx;
	struct axis ax[DRV_MAX_AXES];
	int axes;
	double factor;
	double sign[DRV_MAX_AXES];
	char where[96];         /* "iio:device0 (tmp006)", for messages */
};

static const char *const keys[] = { "device", "channel", "axes", NULL };

/* axes = "y -x z": which of the chip's axes (and which way) X, Y and Z
 * Value take; each axis once.  0 or -EINVAL. */
static int parse_axes(const char *s, int map[DRV_MAX_AXES], double sign[DRV_MAX_AXES])
{
	unsigned seen = 0;
	int i;

	for (i = 0; i < DRV_MAX_AXES; i++) {
		s += strspn(s, " \t,");
		sign[i] = 1;
		if (*s == '-') {
			sign[i] = -1;
			s++;
		}
		if (*s < 'x' || *s > 'z' || (seen & (1u << (*s - 'x'))))
			return -EINVAL;
		map[i] = *s - 'x';
		seen |= 1u << map[i];
		s++;
		if (*s && !strchr(" \t,", *s))
			return -EINVAL;
	}
	return s[strspn(s, " \t,")] ? -EINVAL : 0;
}

/* Parses a channel id ("in_temp", "voltage0", "accel", "accel_x",
 * "concentration_co2").  0 or -EINVAL. */
static int parse_channel(const char *s, struct chan_spec *c)
{
	char type[64];
	size_t n, i;

	if (!strncmp(s, "in_", 3))
		s += 3;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz");
	if (n == 0 || n >= sizeof(type) || strlen(s) >= sizeof(c->id))
		return -EINVAL;
	memcpy(type, s, n);
	type[n] = 0;
	if (s[n + strspn(s + n, "0123456789_-abcdefghijklmnopqrstuvwxyz")])
		return -EINVAL;
	snprintf(c->id, sizeof(c->id), "%s", s);
	c->qty = DRV_Q_OTHER;
	c->factor = 1;
	c->axes = 1;
	for (i = 0; i < DRV_MAX_AXES; i++) {
		c->map[i] = (int)i;
		c->sign[i] = 1;
	}
	for (i = 0; i < NTYPES; i++) {
		if (strcmp(type, types[i].type))
			continue;
		c->qty = types[i].qty;
		c->factor = types[i].factor;
		/* "accel" alone is the three axes; "accel_x" one of them */
		if (types[i].axes && !s[n])
			c->axes = 3;
		break;
	}
	return 0;
}

/* The IIO ABI: a processed value is input; a raw one is (raw + offset) *
 * scale; then the unit conversion. */
static double abi_value(double raw, double offset, double scale, double factor)
{
	return (raw + offset) * scale * factor;
}

static int iio_check(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
		     struct errbuf *err)
{
	const char *dev = drv_key(sec, "device"), *ch = drv_key(sec, "channel");
	struct chan_spec c;

	if (!dev || !*dev) {
		*key = dev ? "device" : NULL;
		return errbuf_set(err, -EINVAL, "device is missing: the IIO device's name, label, "
				  "iio:deviceN or its sysfs path");
	}
	if (!ch) {
		*key = NULL;
		return errbuf_set(err, -EINVAL, "channel is missing: temp, humidityrelative, "
				  "pressure, voltage0, accel ...");
	}
	if (parse_channel(ch, &c)) {
		*key = "channel";
		return errbuf_set(err, -EINVAL, "expected an IIO channel id like temp, "
				  "humidityrelative, pressure, voltage0 or accel_x");
	}
	if (drv_key(sec, "axes")) {
		*key = "axes";
		if (c.axes != 3)
			return errbuf_set(err, -EINVAL, "axes is for a three-axis type (channel = "
					  "accel, anglvel or magn), and channel = %s is one value", ch);
		if (parse_axes(drv_key(sec, "axes"), c.map, c.sign))
			return errbuf_set(err, -EINVAL, "expected x, y and z, each once, in the order "
					  "X, Y and Z Value take them, - to invert one (e.g. y -x z)");
	}
	info->qty = c.qty;
	info->axes = c.axes;
	return 0;
}

/* Whether IIO device id lives under the sysfs device folder real. */
static bool under_device(const char *id, const char *real)
{
	char p[PATH_MAX], r[PATH_MAX];
	size_t len = strlen(real);

	if (drv_path(p, sizeof(p), "/sys/bus/iio/devices/%s", id) || !realpath(p, r))
		return false;
	return !strncmp(r, real, len) && r[len] == '/';
}

static struct iio_device *find_device(struct iio_context *ctx, const char *want,
				      struct errbuf *err)
{
	struct iio_device *hit = NULL, *d;
	unsigned i, n = iio_context_get_devices_count(ctx), hits = 0;
	char real[PATH_MAX];
	const char *name, *label;

	if (want[0] == '/' && !realpath(want, real)) {
		errbuf_set(err, -ENODEV, "%s: %s", want, strerror(errno));
		return NULL;
	}
	for (i = 0; i < n; i++) {
		d = iio_context_get_device(ctx, i);
		name = iio_device_get_name(d);
		label = iio_device_get_label(d);
		if (want[0] == '/' ? !under_device(iio_device_get_id(d), real) :
		    strcmp(iio_device_get_id(d), want) && (!name || strcmp(name, want)) &&
		    (!label || strcmp(label, want)))
			continue;
		if (!hit)
			hit = d;
		hits++;
	}
	if (!hit)
		errbuf_set(err, -ENODEV, "no IIO device %s %s (%u devices present)",
			   want[0] == '/' ? "under" : "named", want, n);
	else if (hits > 1)
		errbuf_set(err, -ENOTUNIQ, "%u IIO devices are named %s: give its sysfs path or "
			   "label as device instead", hits, want);
	return hits == 1 ? hit : NULL;
}

static int find_axis(struct iio_device *dev, const char *id, struct axis *ax, const char *where,
		     struct errbuf *err)
{
	ax->ch = iio_device_find_channel(dev, id, false);
	if (!ax->ch)
		return errbuf_set(err, -ENODEV, "%s has no input channel %s", where, id);
	ax->input = iio_channel_find_attr(ax->ch, "input") != NULL;
	if (!ax->input && !iio_channel_find_attr(ax->ch, "raw"))
		return errbuf_set(err, -ENODEV, "%s channel %s has neither input nor raw", where,
				  id);
	return 0;
}

static void iio_close(struct drv_channel *ch)
{
	struct iio *s = ch->priv;

	if (s->ctx)
		iio_context_destroy(s->ctx);
	s->ctx = NULL;
}

static int read_axis(struct iio *s, const struct axis *ax, double *v, struct errbuf *err)
{
	double raw, off = 0, scale = 1;
	int rc;

	if (ax->input) {
		rc = iio_channel_attr_read_double(ax->ch, "input", &raw);
	} else {
		rc = iio_channel_attr_read_double(ax->ch, "raw", &raw);
		if (!rc && iio_channel_find_attr(ax->ch, "offset"))
			rc = iio_channel_attr_read_double(ax->ch, "offset", &off);
		if (!rc && iio_channel_find_attr(ax->ch, "scale"))
			rc = iio_channel_attr_read_double(ax->ch, "scale", &scale);
	}
	if (rc < 0)
		return errbuf_set(err, rc, "%s %s: %s", s->where, iio_channel_get_id(ax->ch),
				  strerror(-rc));
	*v = abi_value(raw, ax->input ? 0 : off, ax->input ? 1 : scale, s->factor);
	return 0;
}

static int iio_open(struct drv_channel *ch, struct errbuf *err)
{
	static const char *const sfx[DRV_MAX_AXES] = { "_x", "_y", "_z" };
	struct iio *s = ch->priv;
	struct iio_device *dev;
	struct chan_spec c;
	const char *name;
	char id[80];
	double v;
	int i, rc;

	if (parse_channel(drv_key(ch->sec, "channel"), &c) ||
	    (drv_key(ch->sec, "axes") && parse_axes(drv_key(ch->sec, "axes"), c.map, c.sign)))
		return errbuf_set(err, -EINVAL, "bad channel or axes");
	if ((rc = dynlib_load("libiio.so.0", "libiio0", libiio_syms,
				sizeof(libiio_syms) / sizeof(libiio_syms[0]), err)))
		return rc;
	errno = 0;
	s->ctx = iio_create_local_context();
	if (!s->ctx) {
		/* no /sys/bus/iio at all: no IIO driver is loaded yet */
		rc = errno && errno != ENOENT ? -errno : -ENODEV;
		return errbuf_set(err, rc, "no IIO device named %s: libiio: %s",
				  drv_key(ch->sec, "device"), strerror(errno ? errno : ENODEV));
	}
	dev = find_device(s->ctx, drv_key(ch->sec, "device"), err);
	if (!dev) {
		iio_close(ch);
		return -ENODEV;
	}
	name = iio_device_get_name(dev);
	snprintf(s->where, sizeof(s->where), "%s (%s)", iio_device_get_id(dev), name ? name : "?");
	s->factor = c.factor;
	s->axes = c.axes;
	for (i = 0; i < s->axes; i++) {
		s->sign[i] = c.sign[i];
		snprintf(id, sizeof(id), "%s%s", c.id, s->axes > 1 ? sfx[c.map[i]] : "");
		if ((rc = find_axis(dev, id, &s->ax[i], s->where, err)) ||
		    (rc = read_axis(s, &s->ax[i], &v, err))) {
			iio_close(ch);
			return rc;
		}
	}
	drv_set_desc(ch, "%s %s", s->where, c.id);
	return 0;
}

static int iio_read(struct drv_channel *ch, double *v, struct errbuf *err)
{
	struct iio *s = ch->priv;
	int i, rc;

	for (i = 0; i < s->axes; i++) {
		if ((rc = read_axis(s, &s->ax[i], &v[i], err)))
			return rc;
		v[i] *= s->sign[i];
	}
	return 0;
}

const struct drv_ops drv_iio = {
	.name = "iio",
	.keys = keys,
	.priv_size = sizeof(struct iio),
	.check = iio_check,
	.open = iio_open,
	.read = iio_read,
	.close = iio_close,
};
