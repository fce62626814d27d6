/* cfg.c - reads the ini file (inih) into struct cfg and checks every key.
 *
 * inih is driven through ini_parse_stream() with a line-counting reader, so
 * every message carries FILE:LINE whatever options the distribution built
 * inih with.  All errors are reported, then cfg_load() fails; main() exits
 * with 78 (EX_CONFIG).  Sections this file does not know yet are refused, so a
 * typo never silently loses a setting. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm.h"
#include "log.h"
#include "observe.h"

struct reader {
	FILE *f;
	const char *path;
	int line;
	bool bol;
	int errors;
	FILE *errf;
	struct cfg *c;
	char bad_section[64];   /* last unknown section reported, to report it once */
	int long_line;          /* the first line longer than inih's buffer, 0 if none */
	int confirm_line;       /* where [firmware] boot_confirm_command was set */
	int max_line;           /* that buffer's size */
};

static char *reader_gets(char *buf, int size, void *stream)
{
	struct reader *r = stream;
	char *s = fgets(buf, size, r->f);

	if (s && r->bol)
		r->line++;      /* count a line once, even if inih reads it in pieces */
	r->bol = s && strchr(s, '\n');
	if (s && !r->bol && !r->long_line && strlen(s) == (size_t)size - 1 && !feof(r->f)) {
		r->long_line = r->line;
		r->max_line = size;
	}
	return s;
}

#define cfg_error(r, sec, key, val, fmt, ...) \
	((r)->errors++, fprintf((r)->errf, "%s:%d: [%s] %s = \"%s\": " fmt "\n", (r)->path, \
				(r)->line, sec, key, val, ##__VA_ARGS__))

static int set_str(struct reader *r, char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return 0;
	free(*dst);
	*dst = s;
	return 1;
}

static int set_u32(struct reader *r, const char *sec, const char *key, const char *val,
		   uint32_t *dst, unsigned long min, unsigned long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*val)) {
		cfg_error(r, sec, key, val, "expected a whole number");
		return 1;
	}
	v = strtoull(val, &end, 10);
	if (*end || errno) {
		cfg_error(r, sec, key, val, "expected a whole number");
		return 1;
	}
	if (v < min || v > max) {
		cfg_error(r, sec, key, val, "out of range (%lu..%lu)", min, max);
		return 1;
	}
	*dst = (uint32_t)v;
	return 1;
}

static int set_bool(struct reader *r, const char *sec, const char *key, const char *val,
		    bool *dst)
{
	if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1") ||
	    !strcmp(val, "on"))
		*dst = true;
	else if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0") ||
		 !strcmp(val, "off"))
		*dst = false;
	else
		cfg_error(r, sec, key, val, "expected true or false");
	return 1;
}

/* Splits coap://host:port (IPv6 as [addr]:port) into the server fields. */
static int parse_uri(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_server *s = &r->c->server;
	const char *h, *e, *colon;
	unsigned long port;
	char *end;

	if (!strncmp(val, "coap://", 7)) {
		s->secure = false;
		h = val + 7;
		port = 5683;
	} else if (!strncmp(val, "coaps://", 8)) {
		s->secure = true;
		h = val + 8;
		port = 5684;
	} else {
		cfg_error(r, sec, key, val, "expected coap://host[:port] or coaps://host[:port]");
		return 1;
	}
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e || e == h + 1) {
			cfg_error(r, sec, key, val, "unterminated IPv6 address");
			return 1;
		}
		colon = e[1] == ':' ? e + 1 : NULL;
		if (e[1] && !colon) {
			cfg_error(r, sec, key, val, "unexpected text after the address");
			return 1;
		}
		h++;
	} else {
		e = h + strcspn(h, ":/?");
		colon = *e == ':' ? e : NULL;
		if (*e && *e != ':' && strcmp(e, "/")) {
			cfg_error(r, sec, key, val, "a server URI has no path or query");
			return 1;
		}
	}
	if (e == h) {
		cfg_error(r, sec, key, val, "no host");
		return 1;
	}
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || (*end && strcmp(end, "/")) || errno ||
		    port == 0 || port > 65535) {
			cfg_error(r, sec, key, val, "bad port (1..65535)");
			return 1;
		}
	}
	free(s->host);
	s->host = strndup(h, (size_t)(e - h));
	s->port = (uint16_t)port;
	return set_str(r, &s->uri, val);
}

static int security_mode(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_server *s = &r->c->server;

	s->mode_line = r->line;
	if (!strcmp(val, "psk")) {
		s->security_mode = CFG_SEC_PSK;
		return 1;
	}
	if (!strcmp(val, "nosec")) {
		s->security_mode = CFG_SEC_NOSEC;
		return 1;
	}
	if (!strcmp(val, "certificate")) {
		s->security_mode = CFG_SEC_CERT;
		return 1;
	}
	if (!strcmp(val, "rpk")) {
		s->security_mode = CFG_SEC_RPK;
		return 1;
	}
	cfg_error(r, sec, key, val, "expected psk, certificate, rpk or nosec");
	s->mode_line = -r->line;        /* reported: the checks of its keys would only add noise */
	return 1;
}

/* The key's value is never printed, not even in an error. */
static int psk_key(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_server *s = &r->c->server;
	size_t n = strlen(val), i;

	s->psk_key_line = r->line;
	s->psk_key_len = 0;
	if (!n || n % 2 || strspn(val, "0123456789abcdefABCDEF") != n) {
		r->errors++;
		fprintf(r->errf, "%s:%d: [%s] %s: expected an even number of hex digits (the key "
			"itself is not shown)\n", r->path, r->line, sec, key);
		return 1;
	}
	if (n / 2 > CFG_PSK_KEY_MAX) {
		r->errors++;
		fprintf(r->errf, "%s:%d: [%s] %s: %zu bytes, at most %d are supported\n", r->path,
			r->line, sec, key, n / 2, CFG_PSK_KEY_MAX);
		return 1;
	}
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		sscanf(val + 2 * i, "%2x", &v);
		s->psk_key[i] = (uint8_t)v;
	}
	s->psk_key_len = n / 2;
	return 1;
}

/* A PEM file of ours: an absolute path to a readable file with the PEM
 * block the key calls for (its contents are never printed). */
static int pem_file(struct reader *r, const char *sec, const char *key, const char *val,
		    char **dst, int *line)
{
	const char *want = !strcmp(key, "private_key") ? "PRIVATE KEY" :
			   strstr(key, "public_key") ? "PUBLIC KEY" : "CERTIFICATE";
	char buf[256];
	bool found = false;
	FILE *f;

	*line = r->line;
	if (*val != '/') {
		cfg_error(r, sec, key, val, "expected an absolute path");
		return 1;
	}
	f = fopen(val, "r");
	if (!f) {
		cfg_error(r, sec, key, val, "cannot open: %s", strerror(errno));
		return 1;
	}
	while (!found && fgets(buf, sizeof(buf), f))
		found = !strncmp(buf, "-----BEGIN ", 11) && strstr(buf, want) &&
			strstr(buf, want)[strlen(want)] == '-';
	fclose(f);
	if (!found) {
		cfg_error(r, sec, key, val, "not a PEM file with a %s block", want);
		return 1;
	}
	return set_str(r, dst, val);
}

static int server_key(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_server *s = &r->c->server;
	uint32_t v;

	if (!strcmp(key, "uri")) {
		s->uri_line = r->line;
		return parse_uri(r, sec, key, val);
	}
	if (!strcmp(key, "security_mode"))
		return security_mode(r, sec, key, val);
	if (!strcmp(key, "psk_identity")) {
		s->psk_identity_line = r->line;
		if (!*val || strlen(val) > CFG_PSK_IDENTITY_MAX) {
			cfg_error(r, sec, key, val, "expected 1..%d bytes", CFG_PSK_IDENTITY_MAX);
			return 1;
		}
		return set_str(r, &s->psk_identity, val);
	}
	if (!strcmp(key, "psk_key"))
		return psk_key(r, sec, key, val);
	if (!strcmp(key, "certificate"))
		return pem_file(r, sec, key, val, &s->certificate, &s->certificate_line);
	if (!strcmp(key, "private_key"))
		return pem_file(r, sec, key, val, &s->private_key, &s->private_key_line);
	if (!strcmp(key, "server_certificate"))
		return pem_file(r, sec, key, val, &s->server_certificate,
				&s->server_certificate_line);
	if (!strcmp(key, "ca_file"))
		return pem_file(r, sec, key, val, &s->ca_file, &s->ca_file_line);
	if (!strcmp(key, "public_key"))
		return pem_file(r, sec, key, val, &s->public_key, &s->public_key_line);
	if (!strcmp(key, "server_public_key"))
		return pem_file(r, sec, key, val, &s->server_public_key,
				&s->server_public_key_line);
	if (!strcmp(key, "endpoint")) {
		if (!*val || strlen(val) > 128 || strpbrk(val, "&?=/ \t\"<>")) {
			cfg_error(r, sec, key, val,
				  "expected 1..128 characters without spaces, quotes, / & ? =");
			return 1;
		}
		return set_str(r, &s->endpoint, val);
	}
	if (!strcmp(key, "lifetime"))
		return set_u32(r, sec, key, val, &s->lifetime, 10, 31536000);
	if (!strcmp(key, "binding")) {
		if (strcmp(val, "U") && strcmp(val, "UQ")) {
			cfg_error(r, sec, key, val, "expected U or UQ");
			return 1;
		}
		return set_str(r, &s->binding, val);
	}
	if (!strcmp(key, "short_server_id")) {
		set_u32(r, sec, key, val, &v, 1, 65534);
		s->short_server_id = (uint16_t)v;
		return 1;
	}
	if (!strcmp(key, "default_pmin"))
		return set_u32(r, sec, key, val, &s->default_pmin, 0, 31536000);
	if (!strcmp(key, "default_pmax"))
		return set_u32(r, sec, key, val, &s->default_pmax, 0, 31536000);
	if (!strcmp(key, "disable_timeout"))
		return set_u32(r, sec, key, val, &s->disable_timeout, 0, 31536000);
	if (!strcmp(key, "awake_time"))
		return set_u32(r, sec, key, val, &s->awake_time, 1, 86400);
	if (!strcmp(key, "max_observations"))
		return set_u32(r, sec, key, val, &s->max_observations, 1, 65536);
	if (!strcmp(key, "confirmable_notifications"))
		return set_bool(r, sec, key, val, &s->confirmable_notifications);
	if (!strcmp(key, "notification_storing"))
		return set_bool(r, sec, key, val, &s->notification_storing);
	if (!strcmp(key, "retry_count"))
		return set_u32(r, sec, key, val, &s->retry_count, 1, 255);
	if (!strcmp(key, "retry_timer"))
		return set_u32(r, sec, key, val, &s->retry_timer, 1, 86400);
	if (!strcmp(key, "sequence_delay"))
		return set_u32(r, sec, key, val, &s->sequence_delay, 1, 31536000);
	if (!strcmp(key, "sequence_retry_count"))
		return set_u32(r, sec, key, val, &s->sequence_retry_count, 1, 255);
	if (!strcmp(key, "lwm2m_version")) {
		if (strcmp(val, "1.1") && strcmp(val, "1.2")) {
			cfg_error(r, sec, key, val, "expected 1.1 or 1.2");
			return 1;
		}
		return set_str(r, &s->lwm2m_version, val);
	}
	cfg_error(r, sec, key, val, "unknown key");
	return 1;
}

static int device_key(struct reader *r, const char *sec, const char *key, const char *val)
{
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{ "manufacturer", offsetof(struct cfg_device, manufacturer) },
		{ "model", offsetof(struct cfg_device, model) },
		{ "serial", offsetof(struct cfg_device, serial) },
		{ "firmware_version", offsetof(struct cfg_device, firmware_version) },
		{ "hardware_version", offsetof(struct cfg_device, hardware_version) },
		{ "device_type", offsetof(struct cfg_device, device_type) },
		{ "timezone", offsetof(struct cfg_device, timezone) },
		{ "utc_offset", offsetof(struct cfg_device, utc_offset) },
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].name))
			return set_str(r, (char **)((char *)&r->c->device + keys[i].off), val);
	cfg_error(r, sec, key, val, "unknown key");
	return 1;
}

static int set_path(struct reader *r, const char *sec, const char *key, const char *val,
		    char **dst)
{
	if (*val != '/') {
		cfg_error(r, sec, key, val, "expected an absolute path");
		return 1;
	}
	return set_str(r, dst, val);
}

static int firmware_key(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_firmware *f = &r->c->firmware;
	uint32_t kib;

	if (!strcmp(key, "download_dir"))
		return set_path(r, sec, key, val, &f->download_dir);
	if (!strcmp(key, "public_key"))
		return set_path(r, sec, key, val, &f->public_key);
	if (!strcmp(key, "swupdate_dir"))
		return set_path(r, sec, key, val, &f->swupdate_dir);
	if (!strcmp(key, "version_file"))
		return set_path(r, sec, key, val, &f->version_file);
	if (!strcmp(key, "ca_file"))
		return set_path(r, sec, key, val, &f->ca_file);
	if (!strcmp(key, "install_command"))
		return set_str(r, &f->install_command, val);
	if (!strcmp(key, "boot_state_command"))
		return set_str(r, &f->boot_state_command, val);
	if (!strcmp(key, "boot_confirm_command")) {
		r->confirm_line = r->line;
		return set_str(r, &f->boot_confirm_command, val);
	}
	if (!strcmp(key, "defer_command"))
		return set_str(r, &f->defer_command, val);
	if (!strcmp(key, "max_size")) {       /* KiB, so that 32 bits go far enough */
		kib = 0;
		set_u32(r, sec, key, val, &kib, 0, UINT32_MAX);
		f->max_size = (uint64_t)kib * 1024;
		return 1;
	}
	if (!strcmp(key, "timeout"))
		return set_u32(r, sec, key, val, &f->timeout, 1, 86400);
	if (!strcmp(key, "install_timeout"))
		return set_u32(r, sec, key, val, &f->install_timeout, 1, 86400);
	if (!strcmp(key, "coap_block_size")) {  /* a CoAP block size: 2^(4..10) */
		int errors = r->errors;
		uint32_t v = 0;

		set_u32(r, sec, key, val, &v, 16, 1024);
		if (r->errors == errors && (v & (v - 1)))
			cfg_error(r, sec, key, val, "expected a power of two (16, 32, 64, 128, 256, "
				  "512 or 1024)");
		else if (r->errors == errors)
			f->coap_block_size = v;
		return 1;
	}
	cfg_error(r, sec, key, val, "unknown key");
	return 1;
}

static struct cfg_send *send_group(struct reader *r, const char *sec)
{
	struct cfg *c = r->c;
	int i;

	for (i = 0; i < c->nsend; i++)
		if (!strcmp(c->send[i].name, sec + 5))
			return &c->send[i];
	if (c->nsend == CFG_MAX_SEND)
		return NULL;
	c->send[c->nsend].name = strdup(sec + 5);
	c->send[c->nsend].line = r->line;
	c->send[c->nsend].period = 60;
	return &c->send[c->nsend++];
}

/* [send.NAME] paths = /3/0/9 /3303/0/5700 ; period = 60 */
static int send_key(struct reader *r, const char *sec, const char *key, const char *val)
{
	struct cfg_send *g = send_group(r, sec);

	if (!g) {
		cfg_error(r, sec, key, val, "more than %d [send.*] sections", CFG_MAX_SEND);
		return 1;
	}
	if (!strcmp(key, "period"))
		return set_u32(r, sec, key, val, &g->period, 1, 31536000);
	if (!strcmp(key, "paths")) {
		char *copy = strdup(val), *save = NULL, *tok;
		int n = 0;

		for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
			struct dm_path p;
			struct errbuf err;

			if (dm_path_parse(tok, &p, &err) || p.len == 0) {
				cfg_error(r, sec, key, val, "\"%s\" is not an LwM2M path like /3/0/9", tok);
				free(copy);
				return 1;
			}
			if (p.id[0] == 0) {
				cfg_error(r, sec, key, val, "the Security object is never sent");
				free(copy);
				return 1;
			}
			n++;
		}
		free(copy);
		if (!n) {
			cfg_error(r, sec, key, val, "expected one or more paths");
			return 1;
		}
		return set_str(r, &g->paths, val);
	}
	cfg_error(r, sec, key, val, "unknown key");
	return 1;
}

static int handler(void *user, const char *sec, const char *key, const char *val)
{
	struct reader *r = user;
	struct cfg *c = r->c;

	if (!strncmp(sec, "send.", 5) && sec[5])
		return send_key(r, sec, key, val);
	if (!strncmp(sec, "sensor.", 7) && sec[7]) {
		r->errors += cfg_sensor_key(c, r->line, sec, key, val, r->errf);
		return 1;
	}
	if (strcmp(sec, "server") && strcmp(sec, "device") && strcmp(sec, "hooks") &&
	    strcmp(sec, "state") && strcmp(sec, "log") && strcmp(sec, "control") &&
	    strcmp(sec, "firmware")) {
		/* reported once, at the header if inih tells us of it, else at
		 * its first key */
		if (strcmp(r->bad_section, sec)) {
			snprintf(r->bad_section, sizeof(r->bad_section), "%s", sec);
			r->errors++;
			fprintf(r->errf, "%s:%d: [%s]: unknown section\n", r->path, r->line, sec);
		}
		return 1;
	}
	if (!key)       /* a section header alone */
		return 1;
	if (!strcmp(sec, "server"))
		return server_key(r, sec, key, val);
	if (!strcmp(sec, "device"))
		return device_key(r, sec, key, val);
	if (!strcmp(sec, "firmware"))
		return firmware_key(r, sec, key, val);
	if (!strcmp(sec, "hooks")) {
		if (!strcmp(key, "reboot"))
			return set_str(r, &c->hooks.reboot, val);
		if (!strcmp(key, "factory_reset"))
			return set_str(r, &c->hooks.factory_reset, val);
		if (!strcmp(key, "timeout"))
			return set_u32(r, sec, key, val, &c->hooks.timeout, 1, 86400);
	} else if (!strcmp(sec, "state")) {
		if (!strcmp(key, "dir")) {
			if (*val != '/') {
				cfg_error(r, sec, key, val, "expected an absolute path");
				return 1;
			}
			return set_str(r, &c->state_dir, val);
		}
		if (!strcmp(key, "queue_max"))
			return set_u32(r, sec, key, val, &c->queue_max, 1, 1000000);
	} else if (!strcmp(sec, "control")) {
		if (!strcmp(key, "socket")) {
			if (*val != '/' || strlen(val) >= 108) {
				cfg_error(r, sec, key, val, "expected an absolute path under 108 characters");
				return 1;
			}
			return set_str(r, &c->ctl_socket, val);
		}
	} else if (!strcmp(sec, "log")) {
		if (!strcmp(key, "level")) {
			int l = log_level_parse(val);

			if (l < 0)
				cfg_error(r, sec, key, val, "expected error, warning, info or debug");
			else
				c->log_level = l;
			return 1;
		}
	}
	cfg_error(r, sec, key, val, "unknown key");
	return 1;
}

static void defaults(struct cfg *c)
{
	char host[256];

	c->server.security_mode = CFG_SEC_NOSEC;
	c->server.lifetime = 300;
	c->server.short_server_id = 1;
	c->server.disable_timeout = 86400;
	c->server.awake_time = 93;      /* CoAP MAX_TRANSMIT_WAIT, Leshan's default */
	c->server.notification_storing = true;
	c->server.retry_count = 5;
	c->server.retry_timer = 60;
	c->server.sequence_delay = 86400;
	c->server.sequence_retry_count = 1;
	c->server.default_pmin = 0;
	c->server.default_pmax = 0;
	c->server.max_observations = OBS_DEFAULT_MAX;
	c->hooks.timeout = 60;
	c->firmware.timeout = 60;
	c->firmware.coap_block_size = 1024;
	c->firmware.install_timeout = 600;
	c->queue_max = 1000;
	c->log_level = LOG_INFO;
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = 0;
		c->server.endpoint = strdup(host);
	}
}

/* The key files of security_mode = certificate and rpk, against the mode. */
static int check_key_files(const struct cfg_server *s, const char *path, FILE *errf)
{
	const unsigned cert = 1u << CFG_SEC_CERT, rpk = 1u << CFG_SEC_RPK;
	const struct {
		const char *name;
		int line;
		unsigned belongs, needed;       /* by the modes, as 1 << mode */
		const char *not_mode;
	} keys[] = {
		{ "certificate", s->certificate_line, cert, cert, "not certificate" },
		{ "private_key", s->private_key_line, cert | rpk, cert | rpk,
		  "neither certificate nor rpk" },
		{ "server_certificate", s->server_certificate_line, cert, 0, "not certificate" },
		{ "ca_file", s->ca_file_line, cert, 0, "not certificate" },
		{ "public_key", s->public_key_line, rpk, rpk, "not rpk" },
		{ "server_public_key", s->server_public_key_line, rpk, rpk, "not rpk" },
	};
	unsigned mode = 1u << s->security_mode;
	int errors = 0;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!(keys[i].belongs & mode) && keys[i].line) {
			fprintf(errf, "%s:%d: [server] %s: given, but %s%s\n", path, keys[i].line,
				keys[i].name, s->secure ? "security_mode is " : "",
				s->secure ? keys[i].not_mode :
				"uri is coap:// (no DTLS): use coaps:// or remove it");
			errors++;
		} else if ((keys[i].needed & mode) && !keys[i].line) {
			fprintf(errf, "%s:%d: [server] security_mode = \"%s\": %s is missing\n", path,
				s->mode_line, s->security_mode == CFG_SEC_RPK ? "rpk" : "certificate",
				keys[i].name);
			errors++;
		}
	}
	if (s->server_certificate_line && s->ca_file_line) {
		fprintf(errf, "%s:%d: [server] ca_file: server_certificate (line %d) is given "
			"too; set one of them\n", path, s->ca_file_line, s->server_certificate_line);
		errors++;
	}
	return errors;
}

/* What needs the whole [server] section: the security mode and its keys
 * against the URI's scheme.  Returns the number of errors reported. */
static int check_security(struct cfg *c, const char *path, FILE *errf)
{
	struct cfg_server *s = &c->server;
	int errors = 0;

	if (!s->uri || s->mode_line < 0)
		return 0;
	if (!s->mode_line)
		s->security_mode = s->secure ? CFG_SEC_PSK : CFG_SEC_NOSEC;
	if (s->secure && !s->mode_line) {
		fprintf(errf, "%s:%d: [server] uri = \"%s\": coaps:// needs security_mode "
			"(psk, certificate or rpk)\n", path, s->uri_line, s->uri);
		return 1;
	}
	if (!s->secure && s->security_mode != CFG_SEC_NOSEC) {
		fprintf(errf, "%s:%d: [server] security_mode: only nosec goes with coap:// (uri, "
			"line %d); use coaps://\n", path, s->mode_line, s->uri_line);
		errors++;
	}
	if (s->secure && s->security_mode == CFG_SEC_NOSEC) {
		fprintf(errf, "%s:%d: [server] security_mode = \"nosec\": coaps:// (uri, line %d) "
			"needs psk, certificate or rpk\n", path, s->mode_line, s->uri_line);
		errors++;
	}
	errors += check_key_files(s, path, errf);
	if (s->security_mode != CFG_SEC_PSK) {
		const char *why = s->secure ? "security_mode is not psk" :
				  "uri is coap:// (no DTLS): use coaps:// or remove it";

		if (s->psk_identity_line) {
			fprintf(errf, "%s:%d: [server] psk_identity: given, but %s\n", path,
				s->psk_identity_line, why);
			errors++;
		}
		if (s->psk_key_line) {
			fprintf(errf, "%s:%d: [server] psk_key: given, but %s\n", path,
				s->psk_key_line, why);
			errors++;
		}
		return errors;
	}
	if (!s->psk_identity_line) {
		fprintf(errf, "%s:%d: [server] security_mode = \"psk\": psk_identity is missing\n",
			path, s->mode_line);
		errors++;
	}
	if (!s->psk_key_line) {
		fprintf(errf, "%s:%d: [server] security_mode = \"psk\": psk_key is missing\n",
			path, s->mode_line);
		errors++;
	}
	return errors;
}

struct cfg *cfg_load(const char *path, FILE *errf)
{
	struct reader r = { .path = path, .bol = true, .errf = errf };
	struct cfg *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return NULL;
	r.c = c;
	defaults(c);
	c->path = strdup(path);
	r.f = fopen(path, "r");
	if (!r.f) {
		fprintf(errf, "%s: cannot open: %s\n", path, strerror(errno));
		goto fail;
	}
	rc = ini_parse_stream(reader_gets, &r, handler, &r);
	fclose(r.f);
	if (rc < 0) {
		fprintf(errf, "%s: cannot read\n", path);
		goto fail;
	}
	if (rc > 0 && r.long_line) {
		/* inih reads a line in pieces of its buffer; the rest looks like garbage */
		fprintf(errf, "%s:%d: line longer than %d characters (the most the ini parser "
			"reads): shorten it, e.g. put a long command into a script\n", path, r.long_line,
			r.max_line - 1);
		r.errors++;
	} else if (rc > 0) {
		/* inih stops at the first line it cannot parse at all */
		fprintf(errf, "%s:%d: syntax error: expected [section], key = value or a comment\n",
			path, rc);
		r.errors++;
	}
	if (!c->server.uri) {
		fprintf(errf, "%s: [server] uri is missing: set it to coap://host:port\n", path);
		r.errors++;
	}
	if (c->firmware.boot_confirm_command && *c->firmware.boot_confirm_command &&
	    !(c->firmware.boot_state_command && *c->firmware.boot_state_command)) {
		fprintf(errf, "%s:%d: [firmware] boot_confirm_command = \"%s\": needs "
			"boot_state_command (it confirms a testing state that command reports)\n",
			path, r.confirm_line, c->firmware.boot_confirm_command);
		r.errors++;
	}
	r.errors += check_security(c, path, errf);
	if (c->server.default_pmax && c->server.default_pmin > c->server.default_pmax) {
		fprintf(errf, "%s: [server] default_pmin (%u) is greater than default_pmax (%u)\n",
			path, c->server.default_pmin, c->server.default_pmax);
		r.errors++;
	}
	if (!c->server.endpoint) {
		fprintf(errf, "%s: [server] endpoint is not set and the host name is unknown\n",
			path);
		r.errors++;
	}
	if (!c->server.binding)
		c->server.binding = strdup("U");
	if (!c->server.lwm2m_version)
		c->server.lwm2m_version = strdup("1.1");
	if (!c->state_dir)
		c->state_dir = strdup("/var/lib/lwm2md");
	if (!c->ctl_socket)
		c->ctl_socket = strdup("/run/lwm2md/lwm2md.sock");
	r.errors += cfg_sensors_check(c, errf);
	for (int i = 0; i < c->nsend; i++) {
		if (!c->send[i].paths) {
			fprintf(errf, "%s:%d: [send.%s]: paths is missing\n", path, c->send[i].line,
				c->send[i].name);
			r.errors++;
		}
	}
	if (r.errors)
		goto fail;
	return c;
fail:
	cfg_free(c);
	return NULL;
}

void cfg_free(struct cfg *c)
{
	struct cfg_device *d;

	if (!c)
		return;
	d = &c->device;
	free(c->path);
	free(c->server.uri);
	free(c->server.host);
	free(c->server.endpoint);
	free(c->server.binding);
	free(c->server.lwm2m_version);
	free(c->server.psk_identity);
	free(c->server.certificate);
	free(c->server.private_key);
	free(c->server.server_certificate);
	free(c->server.ca_file);
	free(c->server.public_key);
	free(c->server.server_public_key);
	explicit_bzero(c->server.psk_key, sizeof(c->server.psk_key));
	free(d->manufacturer);
	free(d->model);
	free(d->serial);
	free(d->firmware_version);
	free(d->hardware_version);
	free(d->device_type);
	free(d->timezone);
	free(d->utc_offset);
	free(c->hooks.reboot);
	free(c->hooks.factory_reset);
	free(c->firmware.download_dir);
	free(c->firmware.public_key);
	free(c->firmware.install_command);
	free(c->firmware.swupdate_dir);
	free(c->firmware.version_file);
	free(c->firmware.ca_file);
	free(c->firmware.boot_state_command);
	free(c->firmware.boot_confirm_command);
	free(c->firmware.defer_command);
	free(c->state_dir);
	free(c->ctl_socket);
	cfg_sensors_free(c);
	for (int i = 0; i < c->nsend; i++) {
		free(c->send[i].name);
		free(c->send[i].paths);
	}
	free(c);
}

static bool streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool cfg_server_differs(const struct cfg *a, const struct cfg *b)
{
	const struct cfg_server *x = &a->server, *y = &b->server;

	return !streq(x->uri, y->uri) || !streq(x->endpoint, y->endpoint) ||
	       !streq(x->binding, y->binding) || x->short_server_id != y->short_server_id ||
	       !streq(x->lwm2m_version, y->lwm2m_version) ||
	       x->security_mode != y->security_mode || !streq(x->psk_identity, y->psk_identity) ||
	       x->psk_key_len != y->psk_key_len ||
	       memcmp(x->psk_key, y->psk_key, x->psk_key_len) ||
	       !streq(x->certificate, y->certificate) || !streq(x->private_key, y->private_key) ||
	       !streq(x->server_certificate, y->server_certificate) ||
	       !streq(x->ca_file, y->ca_file) || !streq(x->public_key, y->public_key) ||
	       !streq(x->server_public_key, y->server_public_key);
}
