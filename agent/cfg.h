/* cfg.h - the daemon's configuration, read from an ini file with inih.
 *
 * Every error names FILE:LINE, the section and key, the value and what was
 * expected; cfg_load() reports all of them before it fails. */
#ifndef LWM_CFG_H
#define LWM_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EX_CONFIG_CODE 78

/* [server] security_mode: the values are the Security object's 0/x/2 */
enum cfg_security {
	CFG_SEC_PSK = 0,
	CFG_SEC_RPK = 1,
	CFG_SEC_CERT = 2,
	CFG_SEC_NOSEC = 3,
};

#define CFG_PSK_IDENTITY_MAX 64 /* bytes, as libcoap's COAP_DTLS_MAX_PSK_IDENTITY */
#define CFG_PSK_KEY_MAX 64      /* bytes, as libcoap's COAP_DTLS_MAX_PSK */

struct cfg_server {
	char *uri;              /* coap://host:port or coaps://host:port */
	char *host;             /* parsed from uri */
	uint16_t port;
	bool secure;            /* coaps:// */
	enum cfg_security security_mode;        /* NoSec unless set */
	char *psk_identity;
	uint8_t psk_key[CFG_PSK_KEY_MAX];       /* never logged */
	size_t psk_key_len;
	/* security_mode = certificate: PEM files */
	char *certificate;      /* ours (may hold the chain) */
	char *private_key;      /* its key */
	char *server_certificate;       /* the server's own, trusted as it is */
	char *ca_file;          /* CA(s) the server's certificate must chain to */
	/* security_mode = rpk: PEM files (private_key above is shared) */
	char *public_key;       /* ours */
	char *server_public_key;        /* the server's, the only one accepted */
	int uri_line, mode_line, psk_identity_line, psk_key_line;  /* 0: not in the file */
	int certificate_line, private_key_line, server_certificate_line, ca_file_line;
	int public_key_line, server_public_key_line;
	char *endpoint;         /* default: the host name */
	uint32_t lifetime;      /* s */
	char *binding;          /* "U" or "UQ" */
	uint32_t awake_time;    /* s the server counts us awake after we sent (queue mode) */
	uint16_t short_server_id;
	uint32_t default_pmin, default_pmax;
	uint32_t max_observations;      /* taken at start (a reload keeps the running one) */
	uint32_t disable_timeout;
	bool notification_storing;
	uint32_t retry_count;           /* 1/x/17 Communication Retry Count */
	uint32_t retry_timer;           /* 1/x/18 Communication Retry Timer (s) */
	uint32_t sequence_delay;        /* 1/x/19 Communication Sequence Delay Timer (s) */
	uint32_t sequence_retry_count;  /* 1/x/20 Communication Sequence Retry Count */
	char *lwm2m_version;            /* "1.1" */
	bool confirmable_notifications; /* notifications as CON unless con= says otherwise */
};

struct cfg_device {
	char *manufacturer, *model, *serial, *firmware_version, *hardware_version,
	     *device_type, *timezone, *utc_offset;
};

struct cfg_hooks {
	char *reboot, *factory_reset;
	uint32_t timeout;       /* s: a hook running longer is killed */
};

/* [firmware]: the Firmware Update object (5). */
struct cfg_firmware {
	char *download_dir;     /* where images go (default: the state folder) */
	uint64_t max_size;      /* bytes; 0: as much as the disk takes */
	char *public_key;       /* PEM: images must carry a detached signature */
	char *install_command;  /* shell; LWM2MD_FW_IMAGE names the image */
	char *swupdate_dir;     /* swupdate's TMPDIR (its IPC sockets): install with it */
	char *version_file;     /* the running firmware's version (first line) */
	char *ca_file;          /* CA bundle for https://, coaps:// (default: the system's) */
	char *boot_state_command;       /* prints the boot loader's update state (ustate) */
	char *boot_confirm_command;     /* marks a tested update good (ustate 2 -> 0) */
	char *defer_command;    /* asked before an update: exit 0 installs, 1 defers */
	uint32_t timeout;       /* s without progress before a pull gives up */
	uint32_t install_timeout;       /* s for an install to finish */
	uint32_t coap_block_size;       /* bytes per Block2 asked for in coap(s) pulls */
};

/* [send.NAME]: resources sent to the server every period seconds. */
struct cfg_send {
	char *name;
	char *paths;            /* space-separated LwM2M paths, checked */
	uint32_t period;
	int line;
};

#define CFG_MAX_SEND 16

/* One "key = value" line of a [sensor.NAME] section, as written. */
struct cfg_kv {
	char *key, *val;
	int line;
};

struct drv_ops;

/* [sensor.NAME]: one object instance fed by one driver channel.  Parsed and
 * checked by agent/cfg_sensor.c; drivers read their own keys from kv. */
struct cfg_sensor {
	char *name;             /* NAME */
	const char *file;       /* the config file, for messages */
	int line;               /* of the section's first line */
	struct cfg_kv *kv;      /* every key in file order */
	size_t nkv;
	/* filled from kv by the checks */
	uint16_t oid, iid;
	const struct drv_ops *drv;
	int axes;               /* 1, or 3 for the three-axis objects */
	bool output;            /* a digital output object (3201, 3306) */
	bool present_device;    /* present = device: the instance exists only with it */
	uint32_t period_ms;     /* sampling period */
	uint32_t max_age_ms;    /* a read older than this samples again */
	uint32_t debounce_ms;   /* digital inputs */
	uint8_t edge;           /* digital inputs: 1 falling, 2 rising, 3 both (5504) */
	bool initial;           /* digital outputs: state at start */
	double scale, offset;   /* reading * scale + offset */
	bool has_min_range, has_max_range;
	double min_range, max_range;
	const char *application_type, *units, *sensor_type;    /* NULL if unset */
};

/* The value of key in s (the last one if repeated), or NULL. */
const char *cfg_sensor_get(const struct cfg_sensor *s, const char *key);

struct cfg {
	char *path;             /* the file this was read from */
	struct cfg_server server;
	struct cfg_device device;
	struct cfg_hooks hooks;
	struct cfg_firmware firmware;
	char *state_dir;        /* [state] dir, default /var/lib/lwm2md */
	uint32_t queue_max;     /* [state] queue_max: Send/notification records kept offline */
	char *ctl_socket;       /* [control] socket, default /run/lwm2md/lwm2md.sock */
	struct cfg_send send[CFG_MAX_SEND];
	int nsend;
	int log_level;          /* LOG_ERR..LOG_DEBUG (syslog numbers) */
	struct cfg_sensor *sensors;     /* [sensor.NAME] sections, in file order */
	size_t nsensors;
};

/* Reads path into a new cfg.  On errors, prints every one to errf as
 * "FILE:LINE: [section] key = "value": problem" and returns NULL. */
struct cfg *cfg_load(const char *path, FILE *errf);
void cfg_free(struct cfg *c);
/* True if the two configs need a new registration (server settings differ). */
bool cfg_server_differs(const struct cfg *a, const struct cfg *b);

/* agent/cfg_sensor.c, called by cfg.c: records one line of a [sensor.NAME]
 * section (key NULL: the header alone); checks every sensor section once
 * the file is read, printing each problem to errf; frees them.  The first
 * two return the number of errors reported. */
int cfg_sensor_key(struct cfg *c, int line, const char *sec, const char *key, const char *val,
		   FILE *errf);
int cfg_sensors_check(struct cfg *c, FILE *errf);
void cfg_sensors_free(struct cfg *c);
/* --check-config: looks up each sensor's device without claiming it and
 * prints a warning (FILE:LINE) for each one missing now; returns how many. */
int cfg_sensors_probe(const struct cfg *c, FILE *errf);

#endif
