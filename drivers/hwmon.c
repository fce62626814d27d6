/* hwmon.c - hardware monitoring chips through sysfs (/sys/class/hwmon).
 *
 * device = the chip's hwmon name ("lm75", "coretemp", "cpu_thermal"), or its
 * sysfs device path ("/sys/bus/i2c/devices/1-0048") when several chips share
 * a name.  channel = temp1, in0, curr1, power1, humidity1 or fan1 (the sysfs
 * file stem; "_input" may be written too), or only the type ("temp") with
 * label = the text of its tempN_label ("Package id 0").
 *
 * Readings are converted from hwmon's units (millidegrees, millivolts,
 * milliamperes, microwatts, milli-percent) to °C, V, A, W and %RH; fans stay
 * in rpm.  The value file stays open and is re-read at offset 0: an unbound
 * chip makes the read fail with ENODEV, and the next open looks it up again
 * (the hwmonN number may have changed). */
#include "drv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"

static const struct {
	const char *prefix;
	enum drv_qty qty;
	double factor;          /* hwmon unit -> drv unit */
} types[] = {
	{ "temp", DRV_Q_TEMP, 1e-3 },
	{ "in", DRV_Q_VOLTAGE, 1e-3 },
	{ "curr", DRV_Q_CURRENT, 1e-3 },
	{ "power", DRV_Q_POWER, 1e-6 },
	{ "humidity", DRV_Q_HUMIDITY, 1e-3 },
	{ "fan", DRV_Q_RPM, 1 },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

struct hwmon {
	int fd;
	double factor;
	char path[PATH_MAX];
};

static const char *const keys[] = { "device", "channel", "label", NULL };

/* Splits "temp1" / "temp1_input" / "temp" into a type index and a number
 * (-1 if absent).  0 or -EINVAL. */
static int parse_channel(const char *s, size_t *type, int *num)
{
	size_t i, len;
	const char *p;
	char *end;
	long n;

	for (i = 0; i < NTYPES; i++) {
		len = strlen(types[i].prefix);
		if (strncmp(s, types[i].prefix, len))
			continue;
		p = s + len;
		/* "in" is a prefix of nothing else, "temp" of nothing else, ... */
		if (*p && (*p < '0' || *p > '9'))
			continue;
		*type = i;
		*num = -1;
		if (!*p)
			return 0;
		n = strtol(p, &end, 10);
		if (n < 0 || n > 9999 || (*end && strcmp(end, "_input")))
			return -EINVAL;
		*num = (int)n;
		return 0;
	}
	return -EINVAL;
}

static int hwmon_check(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
		       struct errbuf *err)
{
	const char *dev = drv_key(sec, "device"), *ch = drv_key(sec, "channel");
	size_t t;
	int n;

	if (!dev || !*dev) {
		*key = dev ? "device" : NULL;
		return errbuf_set(err, -EINVAL, "device is missing: the hwmon name (see "
				  "/sys/class/hwmon/*/name) or the chip's sysfs path");
	}
	if (!ch) {
		*key = NULL;
		return errbuf_set(err, -EINVAL, "channel is missing: temp1, in0, curr1, power1, "
				  "humidity1 or fan1");
	}
	if (parse_channel(ch, &t, &n)) {
		*key = "channel";
		return errbuf_set(err, -EINVAL, "expected temp1, in0, curr1, power1, humidity1 "
				  "or fan1 (or the type alone with label =)");
	}
	if (n < 0 && !drv_key(sec, "label")) {
		*key = "channel";
		return errbuf_set(err, -EINVAL, "a channel number (%s1) or a label = is needed",
				  types[t].prefix);
	}
	info->qty = types[t].qty;
	info->axes = 1;
	return 0;
}

static int by_number(const struct dirent *a)
{
	return !strncmp(a->d_name, "hwmon", 5);
}

static int cmp_num(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name + 5) - atoi((*b)->d_name + 5);
}

/* dir/name, or dir/device/name (older drivers), as an existing path in out. */
static bool attr_path(const char *dir, const char *name, char *out, size_t size)
{
	if (drv_path(out, size, "%s/%s", dir, name) == 0 && access(out, F_OK) == 0)
		return true;
	return drv_path(out, size, "%s/device/%s", dir, name) == 0 && access(out, F_OK) == 0;
}

/* Whether hwmon dir belongs to the sysfs device dev (realpath'ed). */
static bool under_device(const char *dir, const char *dev)
{
	char real[PATH_MAX];
	size_t len = strlen(dev);

	if (!realpath(dir, real))
		return false;
	return !strncmp(real, dev, len) && real[len] == '/';
}

/* Finds the hwmon folder of sec's device into out.  0 or -errno. */
static int find_device(const struct cfg_sensor *sec, char *out, size_t size, struct errbuf *err)
{
	const char *want = drv_key(sec, "device"), *root = drv_sysroot();
	char class[PATH_MAX], dir[PATH_MAX], p[PATH_MAX], name[128], real[PATH_MAX];
	char found[2][24];
	struct dirent **ents;
	int n, i, hits = 0, rc;
	bool by_path = want[0] == '/';

	if (drv_path(class, sizeof(class), "%s/sys/class/hwmon", root))
		return errbuf_set(err, -ENAMETOOLONG, "LWM2MD_SYSROOT is too long");
	if (by_path) {
		if (drv_path(p, sizeof(p), "%s%s", root, want) || !realpath(p, real))
			return errbuf_set(err, -ENODEV, "%s: %s", p, strerror(errno));
	}
	n = scandir(class, &ents, by_number, cmp_num);
	if (n < 0)
		return errbuf_set(err, -ENODEV, "no hwmon device %s %s: %s: %s",
				  by_path ? "of" : "named", want, class, strerror(errno));
	for (i = 0; i < n; i++) {
		if (drv_path(dir, sizeof(dir), "%s/%s", class, ents[i]->d_name))
			continue;
		if (by_path) {
			if (!under_device(dir, real))
				continue;
		} else {
			if (!attr_path(dir, "name", p, sizeof(p)) ||
			    drv_read_text(p, name, sizeof(name)) < 0 || strcmp(name, want))
				continue;
		}
		if (hits == 0)
			drv_path(out, size, "%s", dir);
		if (hits < 2)
			snprintf(found[hits], sizeof(found[hits]), "%.20s", ents[i]->d_name);
		hits++;
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (hits == 0)
		return errbuf_set(err, -ENODEV, "no hwmon device %s %s under %s",
				  by_path ? "of" : "named", want, class);
	if (hits > 1) {
		rc = errbuf_set(err, -ENOTUNIQ, "%d hwmon devices are named %s (%s, %s, ...): "
				"give the chip's sysfs path as device instead", hits, want,
				found[0], found[1]);
		return rc;
	}
	return 0;
}

/* The value file of the channel in dir, into out.  0 or -errno. */
static int find_channel(const struct cfg_sensor *sec, const char *dir, size_t t, int num,
			char *out, size_t size, struct errbuf *err)
{
	const char *label = drv_key(sec, "label");
	const char *pre = types[t].prefix;
	char p[PATH_MAX], file[64], text[128];
	int i;

	if (num < 0) {
		/* by label: the first tempN_label (N from 0, as in0 exists) that matches */
		for (i = 0; i < 64 && num < 0; i++) {
			snprintf(file, sizeof(file), "%s%d_label", pre, i);
			if (attr_path(dir, file, p, sizeof(p)) &&
			    drv_read_text(p, text, sizeof(text)) >= 0 && !strcmp(text, label))
				num = i;
		}
		if (num < 0)
			return errbuf_set(err, -ENODEV, "%s: no %s channel labelled \"%s\"", dir,
					  pre, label);
	}
	snprintf(file, sizeof(file), "%s%d_input", pre, num);
	if (attr_path(dir, file, out, size))
		return 0;
	if (types[t].qty == DRV_Q_POWER) {
		snprintf(file, sizeof(file), "%s%d_average", pre, num);
		if (attr_path(dir, file, out, size))
			return 0;
	}
	return errbuf_set(err, -ENODEV, "%s/%s%d_input: no such channel", dir, pre, num);
}

static int hwmon_open(struct drv_channel *ch, struct errbuf *err)
{
	struct hwmon *h = ch->priv;
	char dir[PATH_MAX], text[64];
	double v;
	size_t t;
	int num, rc;

	h->fd = -1;
	if (parse_channel(drv_key(ch->sec, "channel"), &t, &num))
		return errbuf_set(err, -EINVAL, "bad channel");
	if ((rc = find_device(ch->sec, dir, sizeof(dir), err)) ||
	    (rc = find_channel(ch->sec, dir, t, num, h->path, sizeof(h->path), err)))
		return rc;
	h->factor = types[t].factor;
	h->fd = open(h->path, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0)
		return errbuf_set(err, -errno, "%s: %s", h->path, strerror(errno));
	/* a first read proves the chip answers (a chip that fails its probe
	 * read is reported here, at open, rather than at the first sample) */
	rc = drv_pread_text(h->fd, text, sizeof(text));
	if (rc < 0 || drv_parse_number(text, &v)) {
		rc = rc < 0 ? rc : -EIO;
		errbuf_set(err, rc, "%s: %s", h->path, rc == -EIO ? "not a number" : strerror(-rc));
		close(h->fd);
		h->fd = -1;
		return rc;
	}
	drv_set_desc(ch, "%s", h->path);
	return 0;
}

static int hwmon_read(struct drv_channel *ch, double *v, struct errbuf *err)
{
	struct hwmon *h = ch->priv;
	char text[64];
	int rc = drv_pread_text(h->fd, text, sizeof(text));

	if (rc < 0)
		return errbuf_set(err, rc, "%s: %s", h->path, strerror(-rc));
	if (drv_parse_number(text, v))
		return errbuf_set(err, -EIO, "%s: \"%.32s\" is not a number", h->path, text);
	*v *= h->factor;
	return 0;
}

static void hwmon_close(struct drv_channel *ch)
{
	struct hwmon *h = ch->priv;

	if (h->fd >= 0)
		close(h->fd);
}

const struct drv_ops drv_hwmon = {
	.name = "hwmon",
	.keys = keys,
	.priv_size = sizeof(struct hwmon),
	.check = hwmon_check,
	.open = hwmon_open,
	.read = hwmon_read,
	.close = hwmon_close,
};
