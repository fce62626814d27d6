/* thermal.c - thermal zones through sysfs (/sys/class/thermal).
 *
 * zone = the zone's type ("cpu-thermal" on a Raspberry Pi, "x86_pkg_temp",
 * "acpitz": the type file of each /sys/class/thermal/thermal_zoneN) or its
 * folder name ("thermal_zone0").  The reading is thermal_zoneN/temp in millidegrees,
 * converted to °C.  Like hwmon, the file stays open and is re-read; a zone
 * that went away fails the read and is looked up again at the next open. */
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

struct thermal {
	int fd;
	char path[PATH_MAX];
};

static const char *const keys[] = { "zone", NULL };

static int thermal_check(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
			 struct errbuf *err)
{
	const char *z = drv_key(sec, "zone");

	if (!z || !*z || strchr(z, '/')) {
		*key = z ? "zone" : NULL;
		return errbuf_set(err, -EINVAL, "%s: the zone's type (see "
				  "/sys/class/thermal/thermal_zone*/type) or thermal_zoneN",
				  z ? "expected a zone" : "zone is missing");
	}
	info->qty = DRV_Q_TEMP;
	info->axes = 1;
	return 0;
}

static int is_zone(const struct dirent *d)
{
	return !strncmp(d->d_name, "thermal_zone", 12);
}

static int cmp_num(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name + 12) - atoi((*b)->d_name + 12);
}

/* The temp file of the zone into out; 0 or -errno. */
static int find_zone(const char *want, char *out, size_t size, struct errbuf *err)
{
	char class[PATH_MAX], p[PATH_MAX], type[96];
	struct dirent **ents;
	int n, i, rc = -ENODEV;

	if (drv_path(class, sizeof(class), "%s/sys/class/thermal", drv_sysroot()))
		return errbuf_set(err, -ENAMETOOLONG, "LWM2MD_SYSROOT is too long");
	n = scandir(class, &ents, is_zone, cmp_num);
	if (n < 0)
		return errbuf_set(err, -ENODEV, "no thermal zone of type %s: %s: %s", want, class,
				  strerror(errno));
	for (i = 0; i < n; i++) {
		if (rc && !strcmp(ents[i]->d_name, want))
			rc = 0;
		if (rc && drv_path(p, sizeof(p), "%s/%s/type", class, ents[i]->d_name) == 0 &&
		    drv_read_text(p, type, sizeof(type)) >= 0 && !strcmp(type, want))
			rc = 0;
		if (!rc) {
			rc = drv_path(out, size, "%s/%s/temp", class, ents[i]->d_name);
			break;
		}
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc)
		return errbuf_set(err, rc, "no thermal zone of type %s under %s", want, class);
	return 0;
}

static int thermal_open(struct drv_channel *ch, struct errbuf *err)
{
	struct thermal *t = ch->priv;
	char text[64];
	double v;
	int rc;

	t->fd = -1;
	if ((rc = find_zone(drv_key(ch->sec, "zone"), t->path, sizeof(t->path), err)))
		return rc;
	t->fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0)
		return errbuf_set(err, -errno, "%s: %s", t->path, strerror(errno));
	rc = drv_pread_text(t->fd, text, sizeof(text));
	if (rc < 0 || drv_parse_number(text, &v)) {
		rc = rc < 0 ? rc : -EIO;
		errbuf_set(err, rc, "%s: %s", t->path, rc == -EIO ? "not a number" : strerror(-rc));
		close(t->fd);
		t->fd = -1;
		return rc;
	}
	drv_set_desc(ch, "%s", t->path);
	return 0;
}

static int thermal_read(struct drv_channel *ch, double *v, struct errbuf *err)
{
	struct thermal *t = ch->priv;
	char text[64];
	int rc = drv_pread_text(t->fd, text, sizeof(text));

	if (rc < 0)
		return errbuf_set(err, rc, "%s: %s", t->path, strerror(-rc));
	if (drv_parse_number(text, v))
		return errbuf_set(err, -EIO, "%s: \"%.32s\" is not a number", t->path, text);
	*v /= 1000;
	return 0;
}

static void thermal_close(struct drv_channel *ch)
{
	struct thermal *t = ch->priv;

	if (t->fd >= 0)
		close(t->fd);
}

const struct drv_ops drv_thermal = {
	.name = "thermal",
	.keys = keys,
	.priv_size = sizeof(struct thermal),
	.check = thermal_check,
	.open = thermal_open,
	.read = thermal_read,
	.close = thermal_close,
};
