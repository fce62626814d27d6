/* drv.h - sensor and GPIO backends behind one interface.
 *
 * A driver turns one [sensor.NAME] section into a channel: a source of
 * readings in the unit of their quantity (drv_qty_unit(): °C, %RH, hPa, V, A,
 * W, lx, m, ppm, m/s², G, rad/s, rpm), or a digital line.  Drivers know sysfs,
 * libiio and libgpiod and nothing of LwM2M: they never log (they fill a
 * caller's errbuf), they keep no globals, and their only blocking calls are
 * single sysfs reads and GPIO ioctls.  A new kind of hardware is one file
 * exporting one const struct drv_ops plus one line in drv.c's table.
 *
 * Sysfs paths are prefixed with $LWM2MD_SYSROOT (drv_sysroot()), so host tests
 * can supply fixture trees; libiio and libgpiod always see the real system. */
#ifndef LWM_DRV_H
#define LWM_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_sensor;
struct errbuf;

/* What a channel measures, in which unit its readings come. */
enum drv_qty {
	DRV_Q_ANY = 0,          /* synthetic: fits any object (sim) */
	DRV_Q_OTHER,            /* a quantity without an IPSO object of its own (3300 only) */
	DRV_Q_TEMP,             /* Cel */
	DRV_Q_HUMIDITY,         /* %RH */
	DRV_Q_PRESSURE,         /* hPa */
	DRV_Q_VOLTAGE,          /* V */
	DRV_Q_CURRENT,          /* A */
	DRV_Q_POWER,            /* W */
	DRV_Q_ILLUMINANCE,      /* lx */
	DRV_Q_DISTANCE,         /* m */
	DRV_Q_CONCENTRATION,    /* ppm */
	DRV_Q_ACCEL,            /* m/s2 */
	DRV_Q_MAGN,             /* G */
	DRV_Q_GYRO,             /* rad/s */
	DRV_Q_RPM,              /* rpm (fans) */
	DRV_Q_DIGITAL,          /* a line: 0 or 1 */
};

/* "temperature", "humidity" ...; "" for DRV_Q_ANY. */
const char *drv_qty_name(enum drv_qty q);
/* The unit readings of q come in (SenML names: "Cel", "%RH", "hPa" ...);
 * NULL for DRV_Q_ANY, DRV_Q_OTHER and DRV_Q_DIGITAL. */
const char *drv_qty_unit(enum drv_qty q);

#define DRV_MAX_AXES 3

/* What a section's channel is, known from its keys alone, without hardware. */
struct drv_info {
	enum drv_qty qty;
	int axes;               /* 1, or 3 (x, y, z) */
	/* Non-empty: a resource only one section may hold ("gpio gpiochip0 line 17"). */
	char exclusive[96];
};

/* A level change on an input line. */
struct drv_edge {
	bool level;             /* the line's logical level after the edge */
	uint64_t t;             /* when, in CLOCK_MONOTONIC ms */
};

/* An open channel.  The caller owns it (drv_open/drv_close); the driver's
 * state is the zeroed block at priv, ops->priv_size bytes. */
struct drv_channel {
	const struct drv_ops *ops;
	const struct cfg_sensor *sec;   /* borrowed: outlives the channel */
	double initial;                 /* outputs: the level to start driving */
	char desc[160];                 /* what was opened, for messages */
	void *priv;
};

struct drv_ops {
	const char *name;               /* the ini value of driver = */
	const char *const *keys;        /* the section keys it reads, NULL-terminated */
	size_t priv_size;
	/* Checks the section's driver keys without touching hardware and says
	 * what the channel measures.  0, or -EINVAL with the offending key (NULL:
	 * the section as a whole) in *key and what is wrong in err. */
	int (*check)(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
		     struct errbuf *err);
	/* Looks the device up without claiming or changing it (--check-config).
	 * 0 or -errno with the reason in err.  NULL: open then close. */
	int (*probe)(const struct cfg_sensor *sec, struct errbuf *err);
	/* Finds and claims the device; fills ch->desc.  0 or -errno, err says why. */
	int (*open)(struct drv_channel *ch, struct errbuf *err);
	/* One reading per axis into v.  0, or -errno with err filled: -ENODEV or
	 * -ENOENT when the device went away, -EIO for garbage. */
	int (*read)(struct drv_channel *ch, double *v, struct errbuf *err);
	/* Drives an output to level v.  NULL: the driver has no outputs. */
	int (*write)(struct drv_channel *ch, double v, struct errbuf *err);
	/* The fd that becomes readable when events wait; NULL: sampled only. */
	int (*event_fd)(struct drv_channel *ch);
	/* Takes one pending edge: 1 with *e filled, 0 when none is left, or
	 * -errno (err filled). */
	int (*event)(struct drv_channel *ch, struct drv_edge *e, struct errbuf *err);
	void (*close)(struct drv_channel *ch);
};

extern const struct drv_ops drv_sim, drv_hwmon, drv_thermal, drv_iio, drv_gpio;

/* The driver called name, or NULL. */
const struct drv_ops *drv_find(const char *name);
/* "sim, hwmon, thermal, iio or gpio", for messages. */
const char *drv_names(void);

/* Opens a channel of sec (whose driver is ops); NULL with the reason in err
 * (*rc, if not NULL, gets the -errno).  sec must outlive the channel. */
struct drv_channel *drv_open(const struct drv_ops *ops, const struct cfg_sensor *sec,
			     double initial, int *rc, struct errbuf *err);
/* Releases the device and frees ch; NULL is a no-op. */
void drv_close(struct drv_channel *ch);
/* Checks that sec's device exists now, without claiming it. */
int drv_probe(const struct drv_ops *ops, const struct cfg_sensor *sec, struct errbuf *err);

/* ---- device events (uevent.c) ------------------------------------------- */

/* A non-blocking socket receiving the kernel's device events, or -errno
 * (err says why). */
int drv_uevent_open(struct errbuf *err);
/* Takes every pending event from fd; *hw: one of them concerns a subsystem
 * the drivers read (iio, hwmon, thermal, gpio, i2c), or some were lost.
 * Returns how many were taken, or -errno. */
int drv_uevent_read(int fd, bool *hw);
/* Whether one event message (len bytes) is the kernel's and about such a
 * subsystem. */
bool drv_uevent_hw(const char *msg, size_t len);

/* ---- helpers for drivers ---------------------------------------------- */

/* Formats a path into out: 0, or -ENAMETOOLONG if it did not fit. */
int drv_path(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats ch->desc (cut to fit). */
void drv_set_desc(struct drv_channel *ch, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* $LWM2MD_SYSROOT, or "". */
const char *drv_sysroot(void);
/* Reads a small sysfs file (at most size-1 bytes, NUL-terminated, trailing
 * blanks removed).  Returns the length or -errno. */
int drv_read_text(const char *path, char *buf, size_t size);
/* Like drv_read_text() from an open fd, at offset 0 (sysfs re-reads);
 * -ENODEV once the file was removed. */
int drv_pread_text(int fd, char *buf, size_t size);
/* Parses a whole decimal number (blanks around allowed) into a finite
 * double.  0 or -EIO. */
int drv_parse_number(const char *s, double *v);
/* The section value of key, or NULL (cfg_sensor_get, for drivers). */
const char *drv_key(const struct cfg_sensor *sec, const char *key);

#endif
