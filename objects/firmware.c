/* firmware.c - the Firmware Update object (5): one instance, the state
 * machine of the OMA definition (Idle -> Downloading -> Downloaded ->
 * Updating) and its Update Result codes.
 *
 * Push: a Write of the Package arrives block by block (dm_ops.write_block)
 * and each block goes straight to the image file (fw_image.c), hashed as it
 * comes.  Pull: a Write of the Package URI starts a download in the loop
 * (fw_download.c) that resumes after a dropped connection or a restart.
 * Then the image is checked: a detached signature when [firmware] public_key
 * is set (for a pull, the URI plus ".sig"; for a push, a prefix "LWM2MSIG",
 * a 16-bit big-endian length and the signature before the image), and a
 * dry run of swupdate when it is the installer.  Only then is the state
 * Downloaded.  Execute Update records what is installed and what ran before
 * (firmware.json), installs (fw_install.c) and runs the reboot hook; after
 * the reboot (or a restart) the result is decided from the firmware version
 * that actually runs (3/0/3, which [firmware] version_file feeds) and, when
 * [firmware] boot_state_command is set, from the boot loader's update state
 * (swupdate's "ustate": 1 installed, 2 testing, 3 failed ...): the new
 * version running and a state that is not a failure is success (1), and a
 * "testing" state is then confirmed with [firmware] boot_confirm_command;
 * the old version, a failed state, a state that cannot be read or a failed
 * confirmation is failure (8).  Never success by default.
 *
 * Deferral (1.2's Update Result 11): when [firmware] defer_command is set,
 * Maximum Defer Period (13) is not 0 and Severity (11) is not Critical, an
 * Update (Execute, or Automatic Upgrade at Download) first asks that command:
 * exit 0 installs now, exit 1 defers (the state stays Downloaded, Update
 * Result 11), anything else is logged and installs.  A deferred update
 * installs by itself, without asking, once Maximum Defer Period has passed
 * since the first deferral (persisted, so a restart does not extend it); an
 * Execute in between asks again.
 *
 * Every state change is written to STATE_DIR/firmware.json before it is
 * visible, so a power cut at any step finds a state it can continue from. */
#include "objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "fw_download.h"
#include "fw_image.h"
#include "fw_install.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "send.h"
#include "store.h"
#include "oma/oma_5.h"

#define STATE_FILE "firmware.json"
/* Leshan (2.0.0-M18) knows object 5 at 1.0 and 1.1; announcing 1.2, which
 * only adds Automatic Upgrade at Download (14), would leave a server without
 * the 1.2 model unable to decode the object at all.  14 is served anyway. */
#define ANNOUNCED_VERSION "1.1"
#define URI_MAX 255
#define SIG_MAGIC "LWM2MSIG"
#define SIG_HEAD 10             /* magic and a 16-bit length */
#define SIG_MAX 1024
#define PULL_RETRIES 3          /* a dropped pull resumes this often before result 4 */
#define RETRY_MS 2000
#define VERSION_MAX 256

enum fw_state {
	ST_IDLE = 0,
	ST_DOWNLOADING = 1,
	ST_DOWNLOADED = 2,
	ST_UPDATING = 3,
};

struct fw {
	struct dm_obj obj;
	struct dm_inst inst;            /* the one instance, 0 */
	struct agent *ag;
	struct fw_image im;
	struct fw_dl *dl;               /* a pull (image or signature) in progress */
	struct fw_inst *job;            /* a check or an install in progress */
	struct loop_timer timer;        /* start-up work and pull retries */
	struct loop_timer defer_timer;  /* the end of Maximum Defer Period */
	/* persisted in firmware.json */
	int state, result;
	char *uri;                      /* Package URI, "" if none */
	bool pull;                      /* the image comes from uri (else a push) */
	char *validator;                /* the pull's ETag/Last-Modified, for a resume */
	char pkg_name[VERSION_MAX], pkg_version[VERSION_MAX];
	int severity;                   /* 11: 0 critical, 1 mandatory, 2 optional */
	uint64_t defer;                 /* 13: s */
	bool auto_upgrade;              /* 14 */
	int64_t last_change;            /* 12: s since the epoch */
	char hash[2 * FW_HASH_LEN + 1]; /* SHA-256 of the downloaded image, "" until known */
	char version_before[VERSION_MAX];       /* what ran when the install started */
	int64_t install_time;
	bool installed;                 /* the installer said success; reboot pending */
	int64_t defer_since;            /* first deferral of this image (s), 0: none */
	bool deciding;                  /* the boot state or confirm command runs */
	bool asking;                    /* the defer command runs */
	/* not persisted */
	bool start_pending;             /* the start-up timer has work to do */
	int retries;
	size_t push_off;                /* bytes of the push body received so far */
	uint8_t sig[SIG_MAX];
	size_t sig_len, sig_got, head_got;
	uint8_t head[SIG_HEAD];
	struct buf sigbuf;              /* a pulled signature */
};

static struct fw *fwo(struct dm_obj *obj)
{
	return container_of(obj, struct fw, obj);
}

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

static const char *state_name(int s)
{
	static const char *const names[] = { "Idle", "Downloading", "Downloaded", "Updating" };

	return s >= 0 && s <= 3 ? names[s] : "?";
}

static const char *fw_dir(const struct agent *ag)
{
	return ag->cfg->firmware.download_dir ? ag->cfg->firmware.download_dir :
	       ag->cfg->state_dir;
}

static void set_str(char **dst, const char *s)
{
	char *n = strdup(s ? s : "");

	if (n) {
		free(*dst);
		*dst = n;
	}
}

/* ---- state file ------------------------------------------------------- */

static void save(struct fw *f)
{
	const char *dir = f->ag->cfg->state_dir;
	struct errbuf err = { "" };
	char *text = NULL;
	json_t *root;

	root = json_pack("{s:i, s:i, s:s, s:b, s:s, s:s, s:s, s:i, s:I, s:b, s:I, s:s, s:s, s:I, s:b, "
			 "s:I}",
			 "state", f->state, "result", f->result, "uri", f->uri, "pull", f->pull,
			 "validator", f->validator, "pkg_name", f->pkg_name,
			 "pkg_version", f->pkg_version, "severity", f->severity,
			 "defer", (json_int_t)f->defer, "auto_upgrade", f->auto_upgrade,
			 "last_change", (json_int_t)f->last_change, "sha256", f->hash,
			 "version_before", f->version_before,
			 "install_time", (json_int_t)f->install_time, "installed", f->installed,
			 "defer_since", (json_int_t)f->defer_since);
	if (!root || !(text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1)))) {
		log_err("5/0: cannot save the update state: out of memory");
		goto out;
	}
	if (store_write(dir, STATE_FILE, text, strlen(text), &err))
		log_err("5/0: cannot save the update state: %s", err.msg);
out:
	free(text);
	json_decref(root);
}

static void copy_field(char *dst, size_t size, json_t *root, const char *key)
{
	const char *s = json_string_value(json_object_get(root, key));

	snprintf(dst, size, "%s", s ? s : "");
}

/* A missing file is a first start; a damaged one is logged and the object
 * starts Idle (an image it cannot account for is removed). */
static void load(struct fw *f)
{
	const char *dir = f->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_error_t jerr;
	json_t *root = NULL;
	struct buf b;
	int rc, st;

	buf_init(&b);
	rc = store_read(dir, STATE_FILE, &b, &err);
	if (rc) {
		if (rc != -ENOENT)
			log_warn("5/0: saved update state ignored: %s", err.msg);
		goto out;
	}
	root = json_loadb(buf_str(&b), b.len, 0, &jerr);
	st = root ? (int)json_integer_value(json_object_get(root, "state")) : -1;
	if (!json_is_object(root) || st < ST_IDLE || st > ST_UPDATING) {
		log_warn("5/0: %s/%s: damaged; starting Idle", dir, STATE_FILE);
		goto out;
	}
	f->state = st;
	f->result = (int)json_integer_value(json_object_get(root, "result"));
	set_str(&f->uri, json_string_value(json_object_get(root, "uri")));
	f->pull = json_is_true(json_object_get(root, "pull"));
	set_str(&f->validator, json_string_value(json_object_get(root, "validator")));
	copy_field(f->pkg_name, sizeof(f->pkg_name), root, "pkg_name");
	copy_field(f->pkg_version, sizeof(f->pkg_version), root, "pkg_version");
	copy_field(f->hash, sizeof(f->hash), root, "sha256");
	copy_field(f->version_before, sizeof(f->version_before), root, "version_before");
	if (json_is_integer(json_object_get(root, "severity")))
		f->severity = (int)json_integer_value(json_object_get(root, "severity"));
	f->defer = (uint64_t)json_integer_value(json_object_get(root, "defer"));
	f->auto_upgrade = json_is_true(json_object_get(root, "auto_upgrade"));
	f->last_change = json_integer_value(json_object_get(root, "last_change"));
	f->install_time = json_integer_value(json_object_get(root, "install_time"));
	f->installed = json_is_true(json_object_get(root, "installed"));
	f->defer_since = json_integer_value(json_object_get(root, "defer_since"));
out:
	json_decref(root);
	buf_fini(&b);
}

/* ---- the state machine ------------------------------------------------ */

static void changed(struct fw *f)
{
	dm_changed(f->obj.dm, &(struct dm_path){ .id = { 5, 0 }, .len = 2 });
}

/* Last State Change Time goes first, as the definition asks; the new state
 * is on disk before anyone can read it. */
static void set_state(struct fw *f, int state, int result)
{
	if (state != f->state) {
		f->last_change = wall_s();
		log_info("5/0: %s -> %s, Update Result %d", state_name(f->state),
			 state_name(state), result);
	} else if (result != f->result) {
		log_info("5/0: %s, Update Result %d", state_name(state), result);
	}
	f->state = state;
	f->result = result;
	save(f);
	changed(f);
}

/* Stops whatever runs for the current image (download, check). */
static void stop_work(struct fw *f)
{
	fw_dl_cancel(f->dl);
	f->dl = NULL;
	fw_install_cancel(f->job);
	f->job = NULL;
	loop_timer_cancel(f->ag->loop, &f->timer);
	loop_timer_cancel(f->ag->loop, &f->defer_timer);
	f->asking = false;
	f->retries = 0;
}

/* Back to Idle with result: nothing of the image is left behind. */
static void to_idle(struct fw *f, int result)
{
	stop_work(f);
	fw_image_remove(&f->im);
	f->pkg_name[0] = f->pkg_version[0] = f->hash[0] = f->version_before[0] = 0;
	f->installed = false;
	f->defer_since = 0;
	set_str(&f->validator, "");
	f->push_off = 0;
	set_state(f, ST_IDLE, result);
}

static void fail(struct fw *f, int result, const char *why)
{
	log_warn("5/0: %s: Update Result %d", why, result);
	to_idle(f, result);
}

/* The version string of what runs now: what the Device object reports as
 * 3/0/3 ([device] firmware_version, [firmware] version_file, or the system). */
static void running_version(struct fw *f, char *out, size_t size)
{
	struct dm_recs recs;
	struct dm_path p = { .id = { 3, 0, 3 }, .len = 3 };

	out[0] = 0;
	dm_recs_init(&recs);
	if (!dm_read(f->obj.dm, &p, true, &recs) && recs.n == 1 && recs.r[0].v.type == DM_T_STRING)
		snprintf(out, size, "%.*s", (int)recs.r[0].v.bytes.len,
			 (const char *)recs.r[0].v.bytes.p);
	dm_recs_fini(&recs);
}

/* Reads name and version from a swupdate image's sw-description (the first
 * entry of its cpio archive), for PkgName and PkgVersion.  False if the image
 * is no cpio archive in the "newc"/"crc" format swupdate reads. */
static bool swu_describe(struct fw *f)
{
	char hdr[111], text[8192], *s;
	unsigned long namesize, filesize;
	size_t off;
	FILE *fp = fopen(f->im.path, "re");
	bool ok = false;

	if (!fp)
		return false;
	if (fread(hdr, 1, 110, fp) != 110 || (memcmp(hdr, "070701", 6) && memcmp(hdr, "070702", 6)))
		goto out;
	hdr[110] = 0;
	if (sscanf(hdr + 54, "%8lx", &filesize) != 1 || sscanf(hdr + 94, "%8lx", &namesize) != 1)
		goto out;
	ok = true;
	off = (110 + namesize + 3) & ~(size_t)3;
	if (filesize >= sizeof(text) || fseek(fp, (long)off, SEEK_SET) ||
	    fread(text, 1, filesize, fp) != filesize)
		goto out;
	text[filesize] = 0;
	for (s = text; (s = strstr(s, "version")); s++) {
		char v[VERSION_MAX];

		if (sscanf(s, "version = \"%255[^\"]\"", v) == 1) {
			snprintf(f->pkg_version, sizeof(f->pkg_version), "%s", v);
			break;
		}
	}
	for (s = text; (s = strstr(s, "name")); s++) {
		char v[VERSION_MAX];

		if ((s == text || s[-1] == '\t' || s[-1] == ' ' || s[-1] == '\n') &&
		    sscanf(s, "name = \"%255[^\"]\"", v) == 1) {
			snprintf(f->pkg_name, sizeof(f->pkg_name), "%s", v);
			break;
		}
	}
out:
	fclose(fp);
	return ok;
}

static void request_update(struct fw *f);

static void now_downloaded(struct fw *f)
{
	log_info("5/0: image %s verified (%llu bytes, SHA-256 %s)%s%s", f->im.path,
		 (unsigned long long)f->im.size, f->hash, f->pkg_version[0] ? ", version " : "",
		 f->pkg_version);
	set_state(f, ST_DOWNLOADED, FW_R_INITIAL);
	if (f->auto_upgrade)
		request_update(f);
}

static void check_done(void *arg, bool ok, const char *why, const char *version)
{
	struct fw *f = arg;

	f->job = NULL;
	if (!ok) {
		char msg[300];

		snprintf(msg, sizeof(msg), "swupdate refused the image: %s", why);
		fail(f, FW_R_INTEGRITY, msg);
		return;
	}
	if (version && *version)
		snprintf(f->pkg_version, sizeof(f->pkg_version), "%s", version);
	now_downloaded(f);
}

/* The installer's own check, when it has one (swupdate's dry run). */
static void check_image(struct fw *f)
{
	struct errbuf err = { "" };

	if (!f->ag->cfg->firmware.swupdate_dir) {
		now_downloaded(f);
		return;
	}
	f->job = fw_install_start(f->ag, f->im.path, true, check_done, f, &err);
	if (!f->job)
		fail(f, FW_R_FAILED, err.msg);
}

static void check_signature(struct fw *f, const uint8_t *sig, size_t len)
{
	uint8_t hash[FW_HASH_LEN];
	struct errbuf err = { "" };
	unsigned v;
	int i;

	for (i = 0; i < FW_HASH_LEN && sscanf(f->hash + 2 * i, "%2x", &v) == 1; i++)
		hash[i] = (uint8_t)v;
	if (!len) {
		fail(f, FW_R_INTEGRITY, "no signature came with the image");
		return;
	}
	if (fw_verify_signature(f->ag->cfg->firmware.public_key, hash, sig, len, &err)) {
		fail(f, FW_R_INTEGRITY, err.msg);
		return;
	}
	log_info("5/0: signature verified with %s", f->ag->cfg->firmware.public_key);
	check_image(f);
}

static void sig_done(void *arg, int result, const char *why)
{
	struct fw *f = arg;
	char msg[400];

	f->dl = NULL;
	if (result != FW_R_INITIAL) {
		snprintf(msg, sizeof(msg), "signature %s.sig: %s", f->uri, why);
		fail(f, result == FW_R_CONN_LOST ? FW_R_CONN_LOST : FW_R_INTEGRITY, msg);
		return;
	}
	check_signature(f, f->sigbuf.p, f->sigbuf.len);
}

static void sig_validator(void *arg, const char *v)
{
}

/* All of the image is in the file: close it, then the checks. */
static void image_complete(struct fw *f)
{
	static const struct fw_dl_cb cb = { .validator = sig_validator, .done = sig_done };
	uint8_t hash[FW_HASH_LEN];
	struct errbuf err = { "" };
	char sig_uri[URI_MAX + 8];
	int rc;

	rc = fw_image_end(&f->im, hash, &err);
	if (rc) {
		fail(f, rc == -ENOSPC || rc == -EDQUOT ? FW_R_NO_SPACE : FW_R_FAILED, err.msg);
		return;
	}
	fw_hash_hex(hash, f->hash);
	f->pkg_name[0] = f->pkg_version[0] = 0;
	swu_describe(f);
	save(f);
	if (!f->ag->cfg->firmware.public_key) {
		check_image(f);
		return;
	}
	if (!f->pull) {
		check_signature(f, f->sig, f->sig_got == f->sig_len ? f->sig_len : 0);
		return;
	}
	snprintf(sig_uri, sizeof(sig_uri), "%s.sig", f->uri);
	buf_reset(&f->sigbuf);
	f->dl = fw_dl_start(f->ag, sig_uri, NULL, NULL, &f->sigbuf, SIG_MAX, &cb, f, &err);
	if (!f->dl)
		fail(f, FW_R_INTEGRITY, err.msg);
}

/* ---- pull ------------------------------------------------------------- */

static void pull_start(struct fw *f, bool resume);

static void pull_validator(void *arg, const char *v)
{
	struct fw *f = arg;

	if (strcmp(f->validator, v)) {
		set_str(&f->validator, v);
		save(f);
	}
}

static void pull_done(void *arg, int result, const char *why)
{
	struct fw *f = arg;

	f->dl = NULL;
	if (result == FW_R_INITIAL) {
		log_info("5/0: %s: downloaded", f->uri);
		f->retries = 0;
		image_complete(f);
		return;
	}
	if (result == FW_R_CONN_LOST && f->retries < PULL_RETRIES) {
		f->retries++;
		log_warn("5/0: %s: %s; resuming in %d s (%d of %d)", f->uri, why,
			 RETRY_MS * f->retries / 1000, f->retries, PULL_RETRIES);
		fw_image_close(&f->im);
		loop_timer_set(f->ag->loop, &f->timer, (uint64_t)RETRY_MS * f->retries);
		return;
	}
	{
		char msg[400];

		snprintf(msg, sizeof(msg), "%s: %s", f->uri, why);
		fail(f, result, msg);
	}
}

static void pull_start(struct fw *f, bool resume)
{
	static const struct fw_dl_cb cb = { .validator = pull_validator, .done = pull_done };
	struct errbuf err = { "" };
	int rc;

	rc = fw_image_begin(&f->im, resume, &err);
	if (rc) {
		fail(f, rc == -ENOSPC ? FW_R_NO_SPACE : FW_R_FAILED, err.msg);
		return;
	}
	if (resume && f->im.size)
		log_info("5/0: %s: resuming at byte %llu", f->uri, (unsigned long long)f->im.size);
	f->dl = fw_dl_start(f->ag, f->uri, &f->im, f->validator, NULL, 0, &cb, f, &err);
	if (!f->dl)
		fail(f, FW_R_BAD_URI, err.msg);
}

/* ---- install and result ----------------------------------------------- */

/* swupdate's update states (its include/state.h), as the boot loader keeps
 * them in "ustate". */
enum {
	US_OK, US_INSTALLED, US_TESTING, US_FAILED, US_NOT_AVAILABLE, US_ERROR, US_WAIT,
	US_IN_PROGRESS, US_NONE = -1,
};

static const char *const ustate_names[] = {
	"ok", "installed", "testing", "failed", "not_available", "error", "wait", "in_progress",
};

/* The first line of what the boot state command printed: "3", "ustate=3" (as
 * fw_printenv and grub-editenv print it) or a name ("failed").  Nothing at
 * all is US_NOT_AVAILABLE (the variable is not set); -2 is not understood. */
static int parse_ustate(const char *out, char *shown, size_t size)
{
	char line[64];
	const char *v;
	size_t n, i;

	out += strspn(out, " \t\r\n");
	n = strcspn(out, "\r\n");
	snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), out);
	while (*line && strchr(" \t", line[strlen(line) - 1]))
		line[strlen(line) - 1] = 0;
	snprintf(shown, size, "%s", line);
	if (!*line)
		return US_NOT_AVAILABLE;
	v = strrchr(line, '=');
	v = v ? v + 1 : line;
	v += strspn(v, " \t\"");
	if (v[0] >= '0' && v[0] <= '7' && (!v[1] || v[1] == '"'))
		return v[0] - '0';
	for (i = 0; i < sizeof(ustate_names) / sizeof(ustate_names[0]); i++)
		if (!strncasecmp(v, ustate_names[i], strlen(ustate_names[i])) &&
		    (!v[strlen(ustate_names[i])] || v[strlen(ustate_names[i])] == '"'))
			return (int)i;
	return -2;
}

static void report_result(struct fw *f, bool ok)
{
	static const struct dm_path report[] = {
		{ .id = { 5, 0, 3 }, .len = 3 },
		{ .id = { 5, 0, 5 }, .len = 3 },
		{ .id = { 3, 0, 3 }, .len = 3 },
	};
	struct errbuf err = { "" };

	f->deciding = false;
	to_idle(f, ok ? FW_R_SUCCESS : FW_R_FAILED);
	dm_changed(f->obj.dm, &report[2]);
	if (f->ag->send && send_paths(f->ag->send, report, 3, &err))
		log_debug("5/0: result not sent: %s", err.msg);
}

static struct fw *deciding_fw(struct agent *ag)
{
	struct dm_obj *obj = dm_find_obj(ag->dm, 5);
	struct fw *f = obj ? fwo(obj) : NULL;

	return f && f->deciding && f->state == ST_UPDATING ? f : NULL;
}

static void confirm_done(struct agent *ag, const char *name, const struct hook_result *r)
{
	struct fw *f = deciding_fw(ag);
	char now[VERSION_MAX], why[64];

	if (!f)
		return;
	running_version(f, now, sizeof(now));
	if (r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0) {
		log_info("5/0: firmware update succeeded: running \"%s\" (was \"%s\"), confirmed "
			 "to the boot loader", now, f->version_before);
		report_result(f, true);
		return;
	}
	if (r->timed_out)
		snprintf(why, sizeof(why), "timed out");
	else if (r->status >= 0 && WIFEXITED(r->status))
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(r->status));
	else
		snprintf(why, sizeof(why), "did not run to its end");
	log_warn("5/0: firmware update failed: \"%s\" runs but the boot loader's testing state "
		 "could not be confirmed (boot_confirm_command: %s), so it would fall back at the "
		 "next boot: Update Result %d", now, why, FW_R_FAILED);
	report_result(f, false);
}

/* Both witnesses in: what runs, and (ustate >= 0, or US_NONE without a boot
 * state command) what the boot loader says. */
static void conclude(struct fw *f, int ustate, const char *shown)
{
	const char *confirm = f->ag->cfg->firmware.boot_confirm_command;
	char now[VERSION_MAX], st[96] = "";
	bool new_running;

	running_version(f, now, sizeof(now));
	new_running = now[0] && strcmp(now, f->version_before);
	if (ustate >= 0)
		snprintf(st, sizeof(st), "; boot loader state %s (\"%s\")", ustate_names[ustate], shown);
	if (!new_running) {
		log_warn("5/0: firmware update failed: still running \"%s\"%s%s: Update Result %d", now,
			 f->installed ? " after the install" : " (the install did not finish)", st,
			 FW_R_FAILED);
		report_result(f, false);
		return;
	}
	if (ustate == US_FAILED || ustate == US_ERROR || ustate == US_IN_PROGRESS) {
		log_warn("5/0: firmware update failed: \"%s\" runs (was \"%s\") but the boot loader "
			 "reports the update %s%s: Update Result %d", now, f->version_before,
			 ustate == US_IN_PROGRESS ? "interrupted" : "failed", st, FW_R_FAILED);
		report_result(f, false);
		return;
	}
	if (ustate == US_TESTING && confirm && *confirm) {
		log_info("5/0: \"%s\" runs and the boot loader is testing it: confirming", now);
		hook_run_opts(f->ag, "boot-confirm", confirm, &(struct hook_opts){ 0 }, confirm_done);
		return;
	}
	log_info("5/0: firmware update succeeded: running \"%s\" (was \"%s\")%s%s", now,
		 f->version_before, st,
		 ustate == US_TESTING ? ", left in testing (no boot_confirm_command)" : "");
	report_result(f, true);
}

static void boot_state_done(struct agent *ag, const char *name, const struct hook_result *r)
{
	struct fw *f = deciding_fw(ag);
	char shown[64], why[160];
	int us;

	if (!f)
		return;
	if (r->status < 0 || !WIFEXITED(r->status) || WEXITSTATUS(r->status)) {
		if (r->timed_out)
			snprintf(why, sizeof(why), "timed out");
		else if (r->status >= 0 && WIFEXITED(r->status))
			snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(r->status));
		else if (r->status >= 0 && WIFSIGNALED(r->status))
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(r->status));
		else
			snprintf(why, sizeof(why), "could not be run");
		log_warn("5/0: firmware update failed: the boot loader's update state is unknown "
			 "(boot_state_command: %s): Update Result %d", why, FW_R_FAILED);
		report_result(f, false);
		return;
	}
	us = parse_ustate(r->out, shown, sizeof(shown));
	if (us < 0) {
		log_warn("5/0: firmware update failed: boot_state_command printed \"%s\", not an "
			 "update state (0-7, ustate=N or a name such as testing): Update Result %d",
			 shown, FW_R_FAILED);
		report_result(f, false);
		return;
	}
	conclude(f, us, shown);
}

/* After the reboot (or instead of it): success or failure, from what runs
 * and from the boot loader's state when a command reads it. */
static void decide_result(struct fw *f)
{
	const char *cmd = f->ag->cfg->firmware.boot_state_command;

	if (f->deciding)
		return;
	f->deciding = true;
	if (!cmd || !*cmd) {
		conclude(f, US_NONE, "");
		return;
	}
	/* a failure to start calls boot_state_done at once, which decides */
	hook_run_opts(f->ag, "boot-state", cmd, &(struct hook_opts){ .capture = 256 },
		      boot_state_done);
}

static void reboot_done(struct agent *ag, const char *name, int status)
{
	struct dm_obj *obj = dm_find_obj(ag->dm, 5);
	struct fw *f;

	if (!obj)
		return;
	f = fwo(obj);
	if (f->state != ST_UPDATING || status == 0)
		return;         /* going down; the result is decided after the reboot */
	log_warn("5/0: the reboot hook failed; deciding the result with what runs now");
	decide_result(f);
}

static void install_done(void *arg, bool ok, const char *why, const char *version)
{
	struct fw *f = arg;
	const char *reboot = f->ag->cfg->hooks.reboot;

	f->job = NULL;
	if (!ok) {
		log_warn("5/0: install failed: %s: Update Result %d", why, FW_R_FAILED);
		set_state(f, ST_DOWNLOADED, FW_R_FAILED);
		return;
	}
	if (version && *version)
		snprintf(f->pkg_version, sizeof(f->pkg_version), "%s", version);
	f->installed = true;
	save(f);
	log_info("5/0: installed; %s", reboot && *reboot ? "rebooting" : "no reboot hook");
	if (reboot && *reboot)
		hook_run(f->ag, "reboot", reboot, reboot_done);
	else
		decide_result(f);
}

static void start_update(struct fw *f)
{
	uint8_t hash[FW_HASH_LEN];
	char hex[2 * FW_HASH_LEN + 1];
	struct errbuf err = { "" };

	/* the file may have rotted since it was checked */
	if (fw_image_begin(&f->im, true, &err) || fw_image_end(&f->im, hash, &err)) {
		fail(f, FW_R_INTEGRITY, err.msg);
		return;
	}
	fw_hash_hex(hash, hex);
	if (strcmp(hex, f->hash)) {
		fail(f, FW_R_INTEGRITY, "the image changed on disk since it was verified");
		return;
	}
	loop_timer_cancel(f->ag->loop, &f->defer_timer);
	f->defer_since = 0;
	running_version(f, f->version_before, sizeof(f->version_before));
	f->install_time = wall_s();
	f->installed = false;
	set_state(f, ST_UPDATING, FW_R_INITIAL);
	log_info("5/0: installing %s (SHA-256 %s) over \"%s\"", f->im.path, f->hash,
		 f->version_before);
	f->job = fw_install_start(f->ag, f->im.path, false, install_done, f, &err);
	if (!f->job) {
		log_warn("5/0: install not started: %s: Update Result %d", err.msg, FW_R_FAILED);
		set_state(f, ST_DOWNLOADED, FW_R_FAILED);
	}
}

/* ---- deferral --------------------------------------------------------- */

/* Seconds the update may still be deferred. */
static int64_t defer_left(const struct fw *f)
{
	int64_t left;

	if (!f->defer_since)
		return (int64_t)f->defer;
	left = f->defer_since + (int64_t)f->defer - wall_s();
	if (left > (int64_t)f->defer)
		left = (int64_t)f->defer;       /* the clock went back */
	return left > 0 ? left : 0;
}

static void arm_defer(struct fw *f)
{
	if (f->state == ST_DOWNLOADED && f->result == FW_R_DEFERRED)
		loop_timer_set(f->ag->loop, &f->defer_timer, (uint64_t)defer_left(f) * 1000);
}

static void defer_over(struct loop_timer *t)
{
	struct fw *f = container_of(t, struct fw, defer_timer);

	if (f->state != ST_DOWNLOADED || f->result != FW_R_DEFERRED || f->asking)
		return;
	if (f->severity != 0)
		log_info("5/0: Maximum Defer Period (%llu s) is over: installing without asking",
			 (unsigned long long)f->defer);
	start_update(f);
}

static void defer_answer(struct agent *ag, const char *name, const struct hook_result *r)
{
	struct dm_obj *obj = dm_find_obj(ag->dm, 5);
	struct fw *f = obj ? fwo(obj) : NULL;

	if (!f || !f->asking)
		return;
	f->asking = false;
	if (f->state != ST_DOWNLOADED)
		return;
	if (r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1) {
		if (!f->defer_since)
			f->defer_since = wall_s();
		log_info("5/0: update deferred by defer_command; it installs by itself in %lld s "
			 "at the latest: Update Result %d", (long long)defer_left(f), FW_R_DEFERRED);
		set_state(f, ST_DOWNLOADED, FW_R_DEFERRED);
		arm_defer(f);
		return;
	}
	if (r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		log_info("5/0: defer_command accepted the update");
	else if (r->timed_out)
		log_warn("5/0: defer_command timed out: installing");
	else if (r->status >= 0 && WIFEXITED(r->status))
		log_warn("5/0: defer_command exited with status %d (0 installs, 1 defers): "
			 "installing", WEXITSTATUS(r->status));
	else
		log_warn("5/0: defer_command did not answer: installing");
	start_update(f);
}

/* An Update was asked for (Execute, Automatic Upgrade at Download): install,
 * or first ask whether to defer (see the top of this file). */
static void request_update(struct fw *f)
{
	const char *cmd = f->ag->cfg->firmware.defer_command;
	char sev[16], left[32];

	if (f->asking)
		return;         /* the question is out already */
	if (!cmd || !*cmd || !f->defer || f->severity == 0 || (f->defer_since && !defer_left(f))) {
		if (cmd && *cmd)
			log_info("5/0: update not offered for deferral (%s)",
				 f->severity == 0 ? "Severity Critical" :
				 !f->defer ? "Maximum Defer Period 0" : "Maximum Defer Period over");
		start_update(f);
		return;
	}
	f->asking = true;
	snprintf(sev, sizeof(sev), "%d", f->severity);
	snprintf(left, sizeof(left), "%lld", (long long)defer_left(f));
	/* the hook's environment is the daemon's, taken at fork */
	setenv("LWM2MD_FW_SEVERITY", sev, 1);
	setenv("LWM2MD_FW_DEFER_LEFT", left, 1);
	setenv("LWM2MD_FW_PKG_NAME", f->pkg_name, 1);
	setenv("LWM2MD_FW_PKG_VERSION", f->pkg_version, 1);
	hook_run_opts(f->ag, "defer", cmd, &(struct hook_opts){ 0 }, defer_answer);
	unsetenv("LWM2MD_FW_SEVERITY");
	unsetenv("LWM2MD_FW_DEFER_LEFT");
	unsetenv("LWM2MD_FW_PKG_NAME");
	unsetenv("LWM2MD_FW_PKG_VERSION");
}

/* ---- push ------------------------------------------------------------- */

/* Takes the signature prefix off the start of a pushed body (when a public
 * key is configured); the rest is image. */
static int push_feed(struct fw *f, const uint8_t *p, size_t len)
{
	struct errbuf err = { "" };
	size_t n;
	int rc;

	if (f->ag->cfg->firmware.public_key) {
		while (len && f->head_got < SIG_HEAD) {
			f->head[f->head_got++] = *p++;
			len--;
			if (f->head_got < SIG_HEAD)
				continue;
			f->sig_len = (size_t)f->head[8] << 8 | f->head[9];
			if (memcmp(f->head, SIG_MAGIC, 8) || !f->sig_len || f->sig_len > SIG_MAX) {
				fail(f, FW_R_INTEGRITY, "the pushed Package does not start with a "
				     "signature (LWM2MSIG prefix)");
				return LWM_EBADREQ;
			}
		}
		n = f->sig_len - f->sig_got < len ? f->sig_len - f->sig_got : len;
		memcpy(f->sig + f->sig_got, p, n);
		f->sig_got += n;
		p += n;
		len -= n;
	}
	if (!len)
		return 0;
	rc = fw_image_append(&f->im, p, len, &err);
	if (rc) {
		fail(f, rc == -ENOSPC || rc == -EFBIG || rc == -EDQUOT ? FW_R_NO_SPACE : FW_R_FAILED,
		     err.msg);
		return rc == -ENOSPC || rc == -EFBIG || rc == -EDQUOT ? LWM_EENTITY : LWM_EINTERNAL;
	}
	return 0;
}

static int fw_write_block(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, size_t off,
			  const uint8_t *p, size_t len, bool last)
{
	struct fw *f = fwo(obj);
	struct errbuf err = { "" };
	int rc;

	if (off == 0 && last && (len == 0 || (len == 1 && p[0] == 0))) {
		/* an empty Package (or "\0") resets the state machine */
		if (f->state == ST_UPDATING)
			return LWM_ENOTALLOWED;
		log_info("5/0: empty Package written: back to Idle");
		to_idle(f, FW_R_INITIAL);
		return 0;
	}
	if (off == 0) {
		if (f->state != ST_IDLE && !(f->state == ST_DOWNLOADING && !f->pull)) {
			log_info("5/0: Package refused: %s", state_name(f->state));
			return LWM_ENOTALLOWED;
		}
		stop_work(f);
		f->pull = false;
		set_str(&f->uri, "");
		set_str(&f->validator, "");
		f->push_off = 0;
		f->sig_len = f->sig_got = f->head_got = 0;
		rc = fw_image_begin(&f->im, false, &err);
		if (rc) {
			fail(f, FW_R_FAILED, err.msg);
			return LWM_EINTERNAL;
		}
		log_info("5/0: Package write started (push to %s)", f->im.path);
		set_state(f, ST_DOWNLOADING, FW_R_INITIAL);
	} else if (f->state != ST_DOWNLOADING || f->pull) {
		return LWM_EBADREQ;
	}
	if (off < f->push_off)
		return 0;               /* a block again: it is in the file already */
	if (off > f->push_off) {
		log_warn("5/0: Package block at %zu, expected %zu", off, f->push_off);
		return -COAP_RESPONSE_CODE(408);
	}
	rc = push_feed(f, p, len);
	if (rc)
		return rc;
	f->push_off += len;
	if (last) {
		log_info("5/0: Package received (%zu bytes)", f->push_off);
		image_complete(f);
	}
	return 0;
}

/* ---- the object ------------------------------------------------------- */

static int out_int(struct dm_out *out, int64_t i)
{
	struct dm_value v = dm_int(i);

	return dm_out_value(out, &v);
}

static int out_str(struct dm_out *out, const char *s)
{
	struct dm_value v = dm_str(s);

	return dm_out_value(out, &v);
}

static int fw_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	static const int protos[] = { FW_P_COAP, FW_P_COAPS, FW_P_HTTP, FW_P_HTTPS };
	struct fw *f = fwo(obj);
	struct dm_value v;
	uint16_t i;
	int rc;

	switch (rid) {
	case OMA_5_PACKAGE_URI:
		return out_str(out, f->uri);
	case OMA_5_STATE:
		return out_int(out, f->state);
	case OMA_5_UPDATE_RESULT:
		return out_int(out, f->result);
	case OMA_5_PKG_NAME:
		return out_str(out, f->pkg_name);
	case OMA_5_PKG_VERSION:
		return out_str(out, f->pkg_version);
	case OMA_5_FIRMWARE_UPDATE_PROTOCOL_SUPPORT:
		for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
			v = dm_int(protos[i]);
			if ((rc = dm_out_inst(out, i, &v)))
				return rc;
		}
		return 0;
	case OMA_5_FIRMWARE_UPDATE_DELIVERY_METHOD:
		return out_int(out, 2);         /* both push and pull */
	case OMA_5_SEVERITY:
		return out_int(out, f->severity);
	case OMA_5_LAST_STATE_CHANGE_TIME:
		v = dm_time(f->last_change);
		return dm_out_value(out, &v);
	case OMA_5_MAXIMUM_DEFER_PERIOD:
		v = dm_uint(f->defer);
		return dm_out_value(out, &v);
	case OMA_5_AUTOMATIC_UPGRADE_AT_DOWNLOAD:
		v = dm_bool(f->auto_upgrade);
		return dm_out_value(out, &v);
	}
	return LWM_ENOTFOUND;
}

static int write_uri(struct fw *f, const struct dm_value *v)
{
	char uri[URI_MAX + 1];
	int proto;

	if (v->bytes.len > URI_MAX || memchr(v->bytes.p, 0, v->bytes.len))
		return LWM_EBADREQ;
	snprintf(uri, sizeof(uri), "%.*s", (int)v->bytes.len, (const char *)v->bytes.p);
	if (!*uri) {
		if (f->state == ST_UPDATING)
			return LWM_ENOTALLOWED;
		log_info("5/0: empty Package URI written: back to Idle");
		set_str(&f->uri, "");
		to_idle(f, FW_R_INITIAL);
		return 0;
	}
	if (f->state != ST_IDLE) {
		log_info("5/0: Package URI refused: %s", state_name(f->state));
		return LWM_ENOTALLOWED;
	}
	set_str(&f->uri, uri);
	proto = fw_dl_proto(uri);
	if (proto < 0) {
		log_warn("5/0: Package URI %s: %s: Update Result %d", uri,
			 -proto == FW_R_BAD_PROTOCOL ? "unsupported protocol" : "invalid URI", -proto);
		set_state(f, ST_IDLE, -proto);
		return 0;
	}
	f->pull = true;
	f->retries = 0;
	set_str(&f->validator, "");
	log_info("5/0: pulling %s", uri);
	set_state(f, ST_DOWNLOADING, FW_R_INITIAL);
	pull_start(f, false);
	return 0;
}

static int fw_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
		    const struct dm_value *v)
{
	struct fw *f = fwo(obj);

	switch (rid) {
	case OMA_5_PACKAGE:
		/* a whole value (not block-wise, or in a format not streamed) */
		return fw_write_block(obj, inst, rid, 0, v->bytes.p, v->bytes.len, true);
	case OMA_5_PACKAGE_URI:
		return write_uri(f, v);
	case OMA_5_SEVERITY:
		if (v->i < 0 || v->i > 2)
			return LWM_EBADREQ;
		f->severity = (int)v->i;
		if (f->severity == 0 && f->state == ST_DOWNLOADED && f->result == FW_R_DEFERRED &&
		    !f->asking) {
			/* a Critical image is not deferred: from the loop, after the answer */
			loop_timer_set(f->ag->loop, &f->defer_timer, 0);
			log_info("5/0: Severity is now Critical: the deferred update installs");
		}
		return 0;
	case OMA_5_MAXIMUM_DEFER_PERIOD:
		f->defer = v->u;
		arm_defer(f);           /* a deferred update's deadline moves with it */
		return 0;
	case OMA_5_AUTOMATIC_UPGRADE_AT_DOWNLOAD:
		f->auto_upgrade = v->b;
		if (f->auto_upgrade && f->state == ST_DOWNLOADED)
			request_update(f);
		return 0;
	}
	return LWM_ENOTALLOWED;
}

static int fw_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, const char *args,
		      size_t len)
{
	struct fw *f = fwo(obj);

	switch (rid) {
	case OMA_5_UPDATE:
		if (f->state != ST_DOWNLOADED) {
			log_info("5/0: Update refused: %s", state_name(f->state));
			return LWM_ENOTALLOWED;
		}
		request_update(f);
		return 0;
	case OMA_5_CANCEL:
		if (f->state != ST_DOWNLOADING && f->state != ST_DOWNLOADED) {
			log_info("5/0: Cancel refused: %s", state_name(f->state));
			return LWM_ENOTALLOWED;
		}
		log_info("5/0: cancelled by the server");
		to_idle(f, FW_R_CANCELLED);
		return 0;
	}
	return LWM_ENOTALLOWED;
}

static void fw_changed(struct dm_obj *obj, struct dm_inst *inst)
{
	save(fwo(obj));
}

static const struct dm_ops fw_ops = {
	.read        = fw_read,
	.write       = fw_write,
	.execute     = fw_execute,
	.changed     = fw_changed,
	.write_block = fw_write_block,
};

/* Work that needs the whole daemon up (the Device object, observations,
 * the Send queue): the result after a reboot, a pull to resume. */
static void on_timer(struct loop_timer *t)
{
	struct fw *f = container_of(t, struct fw, timer);

	if (!f->start_pending) {
		pull_start(f, true);            /* a retry after a dropped connection */
		return;
	}
	f->start_pending = false;
	switch (f->state) {
	case ST_UPDATING:
		decide_result(f);
		break;
	case ST_DOWNLOADING:
		if (!f->pull) {
			fail(f, FW_R_CONN_LOST, "a pushed Package was cut short by a restart");
			break;
		}
		log_info("5/0: resuming the pull of %s after a restart", f->uri);
		pull_start(f, true);
		break;
	case ST_DOWNLOADED:
		if (!fw_image_exists(&f->im))
			fail(f, FW_R_INTEGRITY, "the downloaded image is gone");
		else
			arm_defer(f);   /* a deferred update keeps its deadline */
		break;
	}
}

struct dm_obj *firmware_obj_new(struct agent *ag)
{
	struct errbuf err = { "" };
	struct fw *f = calloc(1, sizeof(*f));

	if (!f || !(f->uri = strdup("")) || !(f->validator = strdup(""))) {
		if (f)
			free(f->uri);
		free(f);
		log_err("5/0: out of memory");
		return NULL;
	}
	f->ag = ag;
	f->severity = 1;
	f->obj = (struct dm_obj){
		.oid = 5,
		.version = ANNOUNCED_VERSION,
		.multi_inst = OMA_5_MULTI,
		.res = oma_5_res,
		.nres = sizeof(oma_5_res) / sizeof(oma_5_res[0]),
		.ops = &fw_ops,
	};
	f->inst.id = 0;
	dm_inst_add(&f->obj, &f->inst);
	buf_init(&f->sigbuf);
	if (store_mkdir(fw_dir(ag), &err))
		log_warn("5/0: download folder: %s", err.msg);
	fw_image_init(&f->im, fw_dir(ag), ag->cfg->firmware.max_size);
	f->timer.cb = on_timer;
	f->defer_timer.cb = defer_over;
	load(f);
	if (f->state == ST_IDLE && fw_image_exists(&f->im))
		fw_image_remove(&f->im);        /* left over from a cut-off reset */
	if (f->state != ST_IDLE) {
		f->start_pending = true;
		loop_timer_set(ag->loop, &f->timer, 0);
	}
	return &f->obj;
}

void firmware_obj_free(struct dm_obj *obj)
{
	struct fw *f;

	if (!obj)
		return;
	f = fwo(obj);
	fw_dl_cancel(f->dl);
	fw_install_cancel(f->job);
	loop_timer_cancel(f->ag->loop, &f->timer);
	loop_timer_cancel(f->ag->loop, &f->defer_timer);
	fw_image_close(&f->im);
	buf_fini(&f->sigbuf);
	free(f->uri);
	free(f->validator);
	free(f);
}
