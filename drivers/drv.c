/* drv.c - the one table of drivers, channel open/close, and the small sysfs
 * helpers the drivers share.
 *
 * It is not a framework: a driver is found by its ini name, and a channel is
 * an allocation of the driver's private state behind a struct drv_channel. */
#include "drv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"

static const struct drv_ops *const table[] = {
	&drv_sim, &drv_hwmon, &drv_thermal, &drv_iio, &drv_gpio,
};

const struct drv_ops *drv_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i]->name, name))
			return table[i];
	return NULL;
}

const char *drv_names(void)
{
	return "sim, hwmon, thermal, iio or gpio";
}

static const struct {
	const char *name, *unit;
} qtys[] = {
	[DRV_Q_ANY] = { "", NULL },
	[DRV_Q_OTHER] = { "other", NULL },
	[DRV_Q_TEMP] = { "temperature", "Cel" },
	[DRV_Q_HUMIDITY] = { "humidity", "%RH" },
	[DRV_Q_PRESSURE] = { "pressure", "hPa" },
	[DRV_Q_VOLTAGE] = { "voltage", "V" },
	[DRV_Q_CURRENT] = { "current", "A" },
	[DRV_Q_POWER] = { "power", "W" },
	[DRV_Q_ILLUMINANCE] = { "illuminance", "lx" },
	[DRV_Q_DISTANCE] = { "distance", "m" },
	[DRV_Q_CONCENTRATION] = { "concentration", "ppm" },
	[DRV_Q_ACCEL] = { "acceleration", "m/s2" },
	[DRV_Q_MAGN] = { "magnetic field", "G" },
	[DRV_Q_GYRO] = { "angular velocity", "rad/s" },
	[DRV_Q_RPM] = { "fan speed", "rpm" },
	[DRV_Q_DIGITAL] = { "digital line", NULL },
};

const char *drv_qty_name(enum drv_qty q)
{
	return (size_t)q < sizeof(qtys) / sizeof(qtys[0]) ? qtys[q].name : "";
}

const char *drv_qty_unit(enum drv_qty q)
{
	return (size_t)q < sizeof(qtys) / sizeof(qtys[0]) ? qtys[q].unit : NULL;
}

struct drv_channel *drv_open(const struct drv_ops *ops, const struct cfg_sensor *sec,
			     double initial, int *rc, struct errbuf *err)
{
	struct drv_channel *ch = calloc(1, sizeof(*ch));
	int r;

	if (!ch || (ops->priv_size && !(ch->priv = calloc(1, ops->priv_size)))) {
		free(ch);
		if (rc)
			*rc = -ENOMEM;
		errbuf_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	ch->ops = ops;
	ch->sec = sec;
	ch->initial = initial;
	r = ops->open(ch, err);
	if (r) {
		free(ch->priv);
		free(ch);
		if (rc)
			*rc = r;
		return NULL;
	}
	if (rc)
		*rc = 0;
	return ch;
}

void drv_close(struct drv_channel *ch)
{
	if (!ch)
		return;
	if (ch->ops->close)
		ch->ops->close(ch);
	free(ch->priv);
	free(ch);
}

int drv_probe(const struct drv_ops *ops, const struct cfg_sensor *sec, struct errbuf *err)
{
	struct drv_channel *ch;
	int rc;

	if (ops->probe)
		return ops->probe(sec, err);
	ch = drv_open(ops, sec, 0, &rc, err);
	drv_close(ch);
	return rc;
}

int drv_path(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void drv_set_desc(struct drv_channel *ch, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ch->desc, sizeof(ch->desc), fmt, ap);
	va_end(ap);
}

const char *drv_sysroot(void)
{
	const char *s = getenv("LWM2MD_SYSROOT");

	return s ? s : "";
}

static int trim(char *buf, size_t len)
{
	while (len && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = 0;
	return (int)len;
}

int drv_pread_text(int fd, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;

	do
		n = pread(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* sysfs fails the read of a removed device's file with ENODEV; a plain
	 * file removed under us (a fixture tree) reads on, so say it the same */
	if (fstat(fd, &st) == 0 && st.st_nlink == 0)
		return -ENODEV;
	return trim(buf, (size_t)n);
}

int drv_read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	n = drv_pread_text(fd, buf, size);
	close(fd);
	return n;
}

int drv_parse_number(const char *s, double *v)
{
	char *end;
	double x;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -EIO;
	errno = 0;
	x = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return -EIO;
	while (isspace((unsigned char)*end))
		end++;
	if (*end || !isfinite(x))
		return -EIO;
	*v = x;
	return 0;
}

const char *drv_key(const struct cfg_sensor *sec, const char *key)
{
	return cfg_sensor_get(sec, key);
}
