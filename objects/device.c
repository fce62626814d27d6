/* device.c - the Device object (3), version 1.2: one instance describing this
 * gateway.
 *
 * Identity facts (manufacturer, model, serial, hardware and firmware version)
 * are read once at start from DMI (/sys/class/dmi/id), the device tree and
 * /etc/os-release; memory and time are read on each request.  Every fact can
 * be replaced from [device] in the config, looked up at read time so that a
 * reload applies.  Reboot and Factory Reset answer 2.04, then de-register,
 * then run the [hooks] command (Factory Reset first empties the state
 * folder, and after its hook exits with status 75 so that systemd starts it
 * afresh with the config the hook restored); without a command they are
 * refused with 4.05.  A hook that fails is logged with its exit status, is
 * reported as Error Code 16 and lwm2md registers again; so it does when a
 * reboot hook returned and the system is still up 5 s later.
 *
 * An unprivileged daemon must not set the system clock or zone, so writes of
 * Current Time, UTC Offset and Timezone change only what this object reports:
 * a time offset and two strings, kept in STATE_DIR/device.json.  What the
 * server wrote wins over the config, which wins over the system.
 *
 * LWM2MD_SYSROOT, if set, is prepended to every /sys, /proc and /etc path so
 * tests can supply a fake system tree. */
#include "objects.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "reg.h"
#include "store.h"
#include "oma/oma_3.h"

#ifndef LWM_VERSION
#define LWM_VERSION "unknown"
#endif

#define STATE_FILE "device.json"
#define BINDINGS "UQ"           /* UDP, and queue mode */
#define POWER_DC 0              /* Available Power Sources: DC power */
#define TZ_MAX 64
#define STOP_TIMEOUT_MS 4000    /* a De-register the server does not answer */
#define REBOOT_GRACE_MS 5000    /* a reboot hook returned: the system should go down */
#define DEREGISTER_DELAY_MS 1000        /* from the 2.04 to the De-register */
#define ERROR_HOOK_FAILED 16    /* device-specific Error Code: a hook failed */
#define EXIT_RESTART 75         /* EX_TEMPFAIL: systemd starts us again */

struct device {
	struct dm_obj obj;
	struct dm_inst inst;            /* the one instance, 0 */
	struct agent *ag;
	char *sysroot;                  /* LWM2MD_SYSROOT, "" if unset */
	/* read from the system at start; NULL = unknown */
	char *manufacturer, *model, *serial, *hardware, *firmware;
	/* written by the server (and saved); NULL = not written */
	char *utc_offset, *timezone;
	int64_t time_offset;            /* s added to the system clock for 3/0/13 */
	uint32_t errors;                /* bit n-1 set: Error Code n (1..32) */
	enum { PENDING_NONE, PENDING_REBOOT, PENDING_FACTORY_RESET } pending;
	struct loop_timer grace;        /* the De-register delay; the wait after a reboot hook */
};

/* ---- reading the system ----------------------------------------------- */

/* Reads sysroot+path into out (NUL-terminated, at most size-1 bytes).
 * Returns the length or -errno. */
static ssize_t read_file(const struct device *d, const char *path, char *out, size_t size)
{
	char p[PATH_MAX];
	size_t len = 0;
	int fd, n;

	n = snprintf(p, sizeof(p), "%s%s", d->sysroot, path);
	if (n < 0 || (size_t)n >= sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t r = read(fd, out + len, size - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	out[len] = 0;
	return (ssize_t)len;
}

/* The first line (or, for device-tree properties, the first NUL-terminated
 * string) of a file, without surrounding blanks.  0, or -errno; -ENODATA when
 * there is nothing left. */
static int read_line(const struct device *d, const char *path, char *out, size_t size)
{
	ssize_t n = read_file(d, path, out, size);
	char *s, *e;

	if (n < 0)
		return (int)n;
	out[strcspn(out, "\n")] = 0;
	for (s = out; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	memmove(out, s, (size_t)(e - s) + 1);
	return *out ? 0 : -ENODATA;
}

/* Firmware fills DMI fields it has no value for with stock phrases. */
static bool placeholder(const char *s)
{
	static const char *const junk[] = {
		"To Be Filled By O.E.M.", "Default string",
		"System manufacturer", "System Product Name", "System Serial Number",
		"System Version", "Not Specified", "Not Applicable", "None", "N/A", "OEM",
		"O.E.M.", "0123456789", "123456789", "Type1ProductConfigId", "x.x",
	};
	size_t i;

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (!strcasecmp(s, junk[i]))
			return true;
	return false;
}

/* The first of paths that holds a usable value, as a new string; NULL if none. */
static char *first_fact(const struct device *d, const char *const *paths, bool dmi)
{
	char v[256];

	for (; *paths; paths++)
		if (read_line(d, *paths, v, sizeof(v)) == 0 && !(dmi && placeholder(v)))
			return strdup(v);
	return NULL;
}

#define DMI "/sys/class/dmi/id/"
#define DT_PROC "/proc/device-tree/"
#define DT_SYS "/sys/firmware/devicetree/base/"

/* The vendor prefix of the board's first device-tree "compatible" string
 * ("raspberrypi,4-model-b" -> "raspberrypi"). */
static char *dt_vendor(const struct device *d)
{
	static const char *const paths[] = { DT_PROC "compatible", DT_SYS "compatible", NULL };
	char v[256], *comma;
	size_t i;

	for (i = 0; paths[i]; i++) {
		if (read_line(d, paths[i], v, sizeof(v)))
			continue;
		comma = strchr(v, ',');
		if (comma && comma != v) {
			*comma = 0;
			return strdup(v);
		}
	}
	return NULL;
}

static char *sys_manufacturer(const struct device *d)
{
	static const char *const dmi[] = { DMI "sys_vendor", DMI "board_vendor", NULL };
	char *s = first_fact(d, dmi, true);

	return s ? s : dt_vendor(d);
}

static char *sys_model(const struct device *d)
{
	static const char *const dmi[] = { DMI "product_name", DMI "board_name", NULL };
	static const char *const dt[] = { DT_PROC "model", DT_SYS "model", NULL };
	char *s = first_fact(d, dmi, true);

	return s ? s : first_fact(d, dt, false);
}

/* product_serial is usually readable by root only; then the device tree or
 * the machine id, which at least identifies this installation. */
static char *sys_serial(const struct device *d)
{
	static const char *const dmi[] = { DMI "product_serial", DMI "board_serial", NULL };
	static const char *const other[] = {
		DT_PROC "serial-number", DT_SYS "serial-number", "/etc/machine-id", NULL,
	};
	char *s = first_fact(d, dmi, true);

	return s ? s : first_fact(d, other, false);
}

static char *sys_hardware(const struct device *d)
{
	static const char *const dmi[] = { DMI "board_version", NULL };

	return first_fact(d, dmi, true);
}

/* The value of KEY=VALUE in an os-release text, unquoted, into out; false if
 * the key is absent or empty. */
static bool os_release_get(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), o = 0;
	const char *line, *v;
	char quote = 0;

	for (line = text; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		if (strncmp(line, key, klen) || line[klen] != '=')
			continue;
		v = line + klen + 1;
		if (*v == '"' || *v == '\'')
			quote = *v++;
		for (; *v && *v != '\n' && *v != quote && o + 1 < size; v++) {
			if (quote == '"' && *v == '\\' && v[1] && v[1] != '\n')
				v++;
			out[o++] = *v;
		}
		out[o] = 0;
		return o > 0;
	}
	return false;
}

/* "Debian GNU/Linux 12 (bookworm), Linux 6.1.0-18-arm64": the distribution
 * and the kernel release. */
static char *sys_firmware(const struct device *d)
{
	char text[4096], os[128], name[64], ver[64], krel[128];
	struct utsname u;
	struct buf b;
	char *s;

	os[0] = 0;
	if (read_file(d, "/etc/os-release", text, sizeof(text)) >= 0 ||
	    read_file(d, "/usr/lib/os-release", text, sizeof(text)) >= 0) {
		if (!os_release_get(text, "PRETTY_NAME", os, sizeof(os)) &&
		    os_release_get(text, "NAME", name, sizeof(name))) {
			if (os_release_get(text, "VERSION_ID", ver, sizeof(ver)))
				snprintf(os, sizeof(os), "%s %s", name, ver);
			else
				snprintf(os, sizeof(os), "%s", name);
		}
	}
	if (read_line(d, "/proc/sys/kernel/osrelease", krel, sizeof(krel))) {
		krel[0] = 0;
		if (!*d->sysroot && uname(&u) == 0)
			snprintf(krel, sizeof(krel), "%s", u.release);
	}
	buf_init(&b);
	if (*os)
		buf_printf(&b, "%s", os);
	if (*krel)
		buf_printf(&b, "%sLinux %s", *os ? ", " : "", krel);
	s = b.len && !b.oom ? strdup(buf_str(&b)) : NULL;
	buf_fini(&b);
	return s;
}

/* MemAvailable (or, before Linux 3.14, MemFree) and MemTotal in KiB. */
static int meminfo(const struct device *d, const char *key, int64_t *kib)
{
	char text[4096], *line;
	size_t klen = strlen(key);
	long long v;
	ssize_t n;

	n = read_file(d, "/proc/meminfo", text, sizeof(text));
	if (n < 0)
		return (int)n;
	for (line = text; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		if (sscanf(line + klen + 1, "%lld", &v) != 1 || v < 0)
			return -EINVAL;
		*kib = v;
		return 0;
	}
	return -ENOENT;
}

/* "+01:00" from the offset the C library applies to local time now. */
static void sys_utc_offset(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	long off;

	if (!localtime_r(&now, &tm)) {
		snprintf(out, size, "+00:00");
		return;
	}
	off = tm.tm_gmtoff;
	snprintf(out, size, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
		 labs(off) % 3600 / 60);
}

/* The IANA zone name: the /etc/localtime link (what the C library really
 * uses), else /etc/timezone (Debian), else "UTC". */
static void sys_timezone(const struct device *d, char *out, size_t size)
{
	char p[PATH_MAX], target[PATH_MAX];
	const char *z;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/etc/localtime", d->sysroot);
	n = readlink(p, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		z = strstr(target, "zoneinfo/");
		if (z && z[9]) {
			snprintf(out, size, "%s", z + 9);
			return;
		}
	}
	if (read_line(d, "/etc/timezone", out, size) == 0)
		return;
	snprintf(out, size, "UTC");
}

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---- checking what the server writes ---------------------------------- */

/* ISO 8601 offsets as servers send them: "+01:00", "-0530", "+02", optionally
 * after "UTC"/"GMT"; "Z" and a bare "UTC" are zero. */
static bool utc_offset_valid(const char *s)
{
	int h = 0, m = 0, i;

	if (!strcmp(s, "Z") || !strcmp(s, "UTC") || !strcmp(s, "GMT"))
		return true;
	if (!strncmp(s, "UTC", 3) || !strncmp(s, "GMT", 3))
		s += 3;
	if (*s != '+' && *s != '-')
		return false;
	s++;
	for (i = 0; i < 2; i++, s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		h = h * 10 + (*s - '0');
	}
	if (*s == ':')
		s++;
	if (*s) {
		for (i = 0; i < 2; i++, s++) {
			if (!isdigit((unsigned char)*s))
				return false;
			m = m * 10 + (*s - '0');
		}
	}
	return !*s && h <= 14 && m < 60;
}

/* IANA names: "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5". */
static bool timezone_valid(const char *s)
{
	size_t len = strlen(s), i;

	if (!len || len >= TZ_MAX || s[0] == '/' || strstr(s, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("/_+-.", s[i]))
			return false;
	return true;
}

/* ---- state file ------------------------------------------------------- */

/* Applies a parsed device.json to d, or leaves d alone and says what is
 * wrong in err. */
static int state_apply(struct device *d, json_t *root, struct errbuf *err)
{
	json_t *off, *utc, *tz;
	char *u = NULL, *z = NULL;

	if (!json_is_object(root))
		return errbuf_set(err, -EINVAL, "not a JSON object");
	off = json_object_get(root, "time_offset");
	utc = json_object_get(root, "utc_offset");
	tz = json_object_get(root, "timezone");
	if (off && !json_is_integer(off))
		return errbuf_set(err, -EINVAL, "time_offset is not an integer");
	if (utc && (!json_is_string(utc) || !utc_offset_valid(json_string_value(utc))))
		return errbuf_set(err, -EINVAL, "utc_offset is not an offset like \"+01:00\"");
	if (tz && (!json_is_string(tz) || !timezone_valid(json_string_value(tz))))
		return errbuf_set(err, -EINVAL, "timezone is not a zone name");
	if ((utc && !(u = strdup(json_string_value(utc)))) ||
	    (tz && !(z = strdup(json_string_value(tz))))) {
		free(u);
		return errbuf_set(err, -ENOMEM, "out of memory");
	}
	d->time_offset = off ? json_integer_value(off) : 0;
	free(d->utc_offset);
	d->utc_offset = u;
	free(d->timezone);
	d->timezone = z;
	return 0;
}

/* A missing file is the normal first start; a damaged one is reported and
 * ignored, so the object starts with the system's values. */
static void state_load(struct device *d)
{
	const char *dir = d->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_t *root;
	int rc;

	if (!dir)
		return;
	rc = store_read_json(dir, STATE_FILE, &root, &err);
	if (rc == -EBADMSG)
		log_warn("3/0: %s; saved time settings ignored", err.msg);
	else if (rc && rc != -ENOENT)
		log_warn("3/0: saved time settings ignored: %s", err.msg);
	if (rc)
		return;
	if (state_apply(d, root, &err))
		log_warn("3/0: %s/%s: %s; saved time settings ignored", dir, STATE_FILE, err.msg);
	json_decref(root);
}

static void state_save(struct device *d)
{
	const char *dir = d->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_t *root;

	if (!dir)
		return;
	root = json_object();
	if (!root ||
	    (d->time_offset && json_object_set_new(root, "time_offset",
						   json_integer(d->time_offset))) ||
	    (d->utc_offset && json_object_set_new(root, "utc_offset",
						  json_string(d->utc_offset))) ||
	    (d->timezone && json_object_set_new(root, "timezone", json_string(d->timezone)))) {
		log_err("3/0: cannot save time settings: out of memory");
		goto out;
	}
	if (store_write_json(dir, STATE_FILE, root, JSON_SORT_KEYS | JSON_INDENT(1), &err))
		log_err("3/0: cannot save time settings: %s", err.msg);
out:
	json_decref(root);
}

/* ---- the object ------------------------------------------------------- */

static struct device *dev(struct dm_obj *obj)
{
	return container_of(obj, struct device, obj);
}

/* NULL is an absent resource. */
static int out_str(struct dm_out *out, const char *s)
{
	struct dm_value v;

	if (!s)
		return LWM_ENOTFOUND;
	v = dm_str(s);
	return dm_out_value(out, &v);
}

static int out_int(struct dm_out *out, int64_t i)
{
	struct dm_value v = dm_int(i);

	return dm_out_value(out, &v);
}

static int out_meminfo(struct device *d, struct dm_out *out, const char *key)
{
	int64_t kib;
	int rc = meminfo(d, key, &kib);

	if (rc == -ENOENT && !strcmp(key, "MemAvailable"))
		rc = meminfo(d, "MemFree", &kib);
	if (rc) {
		log_debug("3/0: %s: %s/proc/meminfo: %s", key, d->sysroot, strerror(-rc));
		return LWM_EUNAVAIL;
	}
	return out_int(out, kib);
}

static int out_errors(struct device *d, struct dm_out *out)
{
	struct dm_value v;
	uint16_t riid = 0;
	int code, rc;

	if (!d->errors) {
		v = dm_int(0);          /* 0: no error */
		return dm_out_inst(out, 0, &v);
	}
	for (code = 1; code <= 32; code++) {
		if (!(d->errors & (UINT32_C(1) << (code - 1))))
			continue;
		v = dm_int(code);
		if ((rc = dm_out_inst(out, riid++, &v)))
			return rc;
	}
	return 0;
}

/* [firmware] version_file: the first line of what the running firmware
 * installed, read on each request so that a new image shows at once. */
static int out_version_file(struct device *d, struct dm_out *out)
{
	const char *path = d->ag->cfg->firmware.version_file;
	char v[256];
	FILE *f = fopen(path, "re");

	if (!f || !fgets(v, sizeof(v), f)) {
		log_debug("3/0/3: %s: %s", path, f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return out_str(out, d->firmware);
	}
	fclose(f);
	v[strcspn(v, "\r\n")] = 0;
	return out_str(out, v);
}

static int device_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct device *d = dev(obj);
	const struct cfg_device *c = &d->ag->cfg->device;
	struct dm_value v;
	char s[TZ_MAX];

	switch (rid) {
	case OMA_3_MANUFACTURER:
		return out_str(out, c->manufacturer ? c->manufacturer :
				    d->manufacturer ? d->manufacturer : "unknown");
	case OMA_3_MODEL_NUMBER:
		return out_str(out, c->model ? c->model : d->model);
	case OMA_3_SERIAL_NUMBER:
		return out_str(out, c->serial ? c->serial : d->serial);
	case OMA_3_FIRMWARE_VERSION:
		if (c->firmware_version)
			return out_str(out, c->firmware_version);
		if (d->ag->cfg->firmware.version_file)
			return out_version_file(d, out);
		return out_str(out, d->firmware);
	case OMA_3_AVAILABLE_POWER_SOURCES:
		v = dm_int(POWER_DC);
		return dm_out_inst(out, 0, &v);
	case OMA_3_MEMORY_FREE:
		return out_meminfo(d, out, "MemAvailable");
	case OMA_3_MEMORY_TOTAL:
		return out_meminfo(d, out, "MemTotal");
	case OMA_3_ERROR_CODE:
		return out_errors(d, out);
	case OMA_3_CURRENT_TIME:
		v = dm_time(now_s() + d->time_offset);
		return dm_out_value(out, &v);
	case OMA_3_UTC_OFFSET:
		if (d->utc_offset || c->utc_offset)
			return out_str(out, d->utc_offset ? d->utc_offset : c->utc_offset);
		sys_utc_offset(s, sizeof(s));
		return out_str(out, s);
	case OMA_3_TIMEZONE:
		if (d->timezone || c->timezone)
			return out_str(out, d->timezone ? d->timezone : c->timezone);
		sys_timezone(d, s, sizeof(s));
		return out_str(out, s);
	case OMA_3_SUPPORTED_BINDING_AND_MODES:
		return out_str(out, BINDINGS);
	case OMA_3_DEVICE_TYPE:
		return out_str(out, c->device_type ? c->device_type : "gateway");
	case OMA_3_HARDWARE_VERSION:
		return out_str(out, c->hardware_version ? c->hardware_version : d->hardware);
	case OMA_3_SOFTWARE_VERSION:
		return out_str(out, LWM_VERSION);
	}
	/* 7, 8 power source voltage/current, 9 battery level, 20 battery status,
	 * 22 ExtDevInfo: a gateway on DC power has none of them. */
	return LWM_ENOTFOUND;
}

static int device_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
			const struct dm_value *v)
{
	struct device *d = dev(obj);
	char *s, **slot;
	bool ok;

	switch (rid) {
	case OMA_3_CURRENT_TIME:
		if (v->i < 0)
			return LWM_EBADREQ;
		/* Kept as an offset: the daemon may not (and should not) set the
		 * system clock; NTP owns it. */
		d->time_offset = v->i - now_s();
		return 0;
	case OMA_3_UTC_OFFSET:
	case OMA_3_TIMEZONE:
		if (!v->bytes.len || memchr(v->bytes.p, 0, v->bytes.len))
			return LWM_EBADREQ;
		if (!(s = strndup((const char *)v->bytes.p, v->bytes.len)))
			return LWM_EINTERNAL;
		ok = rid == OMA_3_UTC_OFFSET ? utc_offset_valid(s) : timezone_valid(s);
		if (!ok) {
			log_info("3/0/%u: refused \"%s\": not %s", rid, s,
				 rid == OMA_3_UTC_OFFSET ? "an offset like +01:00" : "a zone name");
			free(s);
			return LWM_EBADREQ;
		}
		slot = rid == OMA_3_UTC_OFFSET ? &d->utc_offset : &d->timezone;
		free(*slot);
		*slot = s;
		return 0;
	}
	return LWM_ENOTALLOWED;
}

/* Back to what the config or the system says. */
static int device_clear(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid)
{
	struct device *d = dev(obj);

	switch (rid) {
	case OMA_3_CURRENT_TIME:
		d->time_offset = 0;
		return 0;
	case OMA_3_UTC_OFFSET:
		free(d->utc_offset);
		d->utc_offset = NULL;
		return 0;
	case OMA_3_TIMEZONE:
		free(d->timezone);
		d->timezone = NULL;
		return 0;
	}
	return LWM_ENOTALLOWED;
}

static struct device *dev_of(struct agent *ag)
{
	struct dm_obj *obj = dm_find_obj(ag->dm, 3);

	return obj ? dev(obj) : NULL;
}

/* The hook could not do its job (or, for Reboot, returned and the system
 * did not go down): register again, so the box stays reachable. */
static void register_again(struct agent *ag)
{
	if (ag->reg && reg_state(ag->reg) == REG_IDLE)
		reg_start(ag->reg);
}

static void reboot_grace_over(struct loop_timer *t)
{
	struct device *d = container_of(t, struct device, grace);

	log_warn("3/0: still running %d s after the reboot hook; registering again",
		 REBOOT_GRACE_MS / 1000);
	register_again(d->ag);
}

static void hook_done(struct agent *ag, const char *name, int status)
{
	struct device *d = dev_of(ag);
	bool ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (!d)
		return;
	if (!ok) {
		/* hook.c logged the exit status or signal */
		log_err("3/0: %s failed; reported as Error Code %d; registering again",
			d->pending == PENDING_REBOOT ? "Reboot" : "Factory Reset", ERROR_HOOK_FAILED);
		device_set_error(&d->obj, ERROR_HOOK_FAILED);
		dm_changed(ag->dm, &(struct dm_path){ .id = { 3, 0, OMA_3_ERROR_CODE }, .len = 3 });
		d->pending = PENDING_NONE;
		register_again(ag);
		return;
	}
	if (d->pending == PENDING_FACTORY_RESET) {
		/* a fresh start: the config the hook restored, nothing of the old
		 * state in memory either (systemd restarts on this status) */
		log_info("3/0: factory reset done; exiting with status %d to start afresh",
			 EXIT_RESTART);
		ag->exit_code = EXIT_RESTART;
		loop_stop(ag->loop);
		return;
	}
	d->pending = PENDING_NONE;
	d->grace.cb = reboot_grace_over;
	loop_timer_set(ag->loop, &d->grace, REBOOT_GRACE_MS);
}

/* Removes every file of the state folder (what the server wrote, the
 * registration, observations, queued data, firmware state and image). */
static void clear_state(struct device *d)
{
	const char *dir = d->ag->cfg->state_dir;
	struct dirent *e;
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp) {
		log_warn("3/0: factory reset: %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (unlinkat(dirfd(dp), e->d_name, 0) == 0)
			n++;
		else if (errno != EISDIR)
			log_warn("3/0: factory reset: %s/%s: %s", dir, e->d_name, strerror(errno));
	}
	fsync(dirfd(dp));
	closedir(dp);
	log_info("3/0: factory reset: %d files removed from %s", n, dir);
}

/* De-registered (or the server did not answer in time): now the hook. */
static void deregistered(struct agent *ag)
{
	struct device *d = dev_of(ag);

	if (!d)
		return;
	if (d->pending == PENDING_FACTORY_RESET) {
		clear_state(d);
		hook_run(ag, "factory_reset", ag->cfg->hooks.factory_reset, hook_done);
	} else {
		hook_run(ag, "reboot", ag->cfg->hooks.reboot, hook_done);
	}
}

/* Every module keeps its state on disk as it changes, so what is left is to
 * de-register cleanly, then run the hook. */
static void deregister_now(struct loop_timer *t)
{
	struct device *d = container_of(t, struct device, grace);

	if (d->pending == PENDING_REBOOT)
		log_info("3/0: Reboot: de-registering, then running the reboot hook");
	else
		log_info("3/0: Factory Reset: de-registering, clearing %s, then running the hook",
			 d->ag->cfg->state_dir);
	reg_stop(d->ag->reg, STOP_TIMEOUT_MS, deregistered);
}

/* After the 2.04 went out; the De-register waits a moment more, since a
 * server (Leshan) cancels what it still has open with a client that
 * de-registers, the answer to this Execute included. */
static void run_reboot(struct agent *ag, void *arg)
{
	struct device *d = arg;

	d->pending = PENDING_REBOOT;
	d->grace.cb = deregister_now;
	loop_timer_set(ag->loop, &d->grace, DEREGISTER_DELAY_MS);
}

static void run_factory_reset(struct agent *ag, void *arg)
{
	struct device *d = arg;

	d->pending = PENDING_FACTORY_RESET;
	d->grace.cb = deregister_now;
	loop_timer_set(ag->loop, &d->grace, DEREGISTER_DELAY_MS);
}

/* Runs a hook once the 2.04 is out: a reboot that started first would take
 * the answer with it and the server would retry. */
static int execute_hook(struct device *d, const char *what, const char *key, const char *cmd,
			void (*fn)(struct agent *ag, void *arg))
{
	int rc;

	if (!cmd || !*cmd) {
		log_warn("3/0: %s refused: no [hooks] %s command configured", what, key);
		return LWM_ENOTALLOWED;
	}
	if (d->pending != PENDING_NONE) {
		log_warn("3/0: %s refused: a Reboot or Factory Reset is under way", what);
		return LWM_EUNAVAIL;
	}
	rc = agent_after_response(d->ag, fn, d);
	if (rc) {
		log_err("3/0: %s: cannot queue the hook: %s", what, strerror(-rc));
		return LWM_EUNAVAIL;
	}
	log_info("3/0: %s requested by the server", what);
	return 0;
}

static int device_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			  const char *args, size_t len)
{
	struct device *d = dev(obj);
	const struct cfg_hooks *h = &d->ag->cfg->hooks;

	switch (rid) {
	case OMA_3_REBOOT:
		return execute_hook(d, "Reboot", "reboot", h->reboot, run_reboot);
	case OMA_3_FACTORY_RESET:
		return execute_hook(d, "Factory Reset", "factory_reset", h->factory_reset,
				    run_factory_reset);
	case OMA_3_RESET_ERROR_CODE:
		d->errors = 0;
		return 0;
	}
	return LWM_ENOTALLOWED;
}

static void device_changed(struct dm_obj *obj, struct dm_inst *inst)
{
	state_save(dev(obj));
}

static const struct dm_ops device_ops = {
	.read    = device_read,
	.write   = device_write,
	.clear   = device_clear,
	.execute = device_execute,
	.changed = device_changed,
	/* .create, .remove: NULL, the one instance always exists */
};

void device_set_error(struct dm_obj *obj, int code)
{
	if (code < 1 || code > 32) {
		log_err("bug: 3/0: error code %d is not 1..32", code);
		return;
	}
	dev(obj)->errors |= UINT32_C(1) << (code - 1);
}

void device_clear_error(struct dm_obj *obj, int code)
{
	if (code >= 1 && code <= 32)
		dev(obj)->errors &= ~(UINT32_C(1) << (code - 1));
}

struct dm_obj *device_obj_new(struct agent *ag)
{
	const char *root = getenv("LWM2MD_SYSROOT");
	struct device *d;

	d = calloc(1, sizeof(*d));
	if (!d || !(d->sysroot = strdup(root ? root : "")))
		goto fail;
	d->ag = ag;
	d->obj = (struct dm_obj){
		.oid = 3,
		.version = OMA_3_VERSION,
		.multi_inst = OMA_3_MULTI,
		.res = oma_3_res,
		.nres = sizeof(oma_3_res) / sizeof(oma_3_res[0]),
		.ops = &device_ops,
	};
	d->inst.id = 0;
	dm_inst_add(&d->obj, &d->inst);
	d->grace.cb = reboot_grace_over;
	/* A fact that cannot be read (or copied) is reported as absent. */
	d->manufacturer = sys_manufacturer(d);
	d->model = sys_model(d);
	d->serial = sys_serial(d);
	d->hardware = sys_hardware(d);
	d->firmware = sys_firmware(d);
	state_load(d);
	log_debug("3/0: %s %s, serial %s, hardware %s, %s",
		  d->manufacturer ? d->manufacturer : "(unknown maker)",
		  d->model ? d->model : "(unknown model)", d->serial ? d->serial : "unknown",
		  d->hardware ? d->hardware : "unknown", d->firmware ? d->firmware : "");
	return &d->obj;

fail:
	free(d);
	log_err("3/0: out of memory");
	return NULL;
}

void device_obj_free(struct dm_obj *obj)
{
	struct device *d;

	if (!obj)
		return;
	d = dev(obj);
	loop_timer_cancel(d->ag->loop, &d->grace);
	free(d->manufacturer);
	free(d->model);
	free(d->serial);
	free(d->hardware);
	free(d->firmware);
	free(d->utc_offset);
	free(d->timezone);
	free(d->sysroot);
	free(d);
}
