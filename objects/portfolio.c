/* portfolio.c - the Portfolio object (16): identities a server stores on
 * the device (host device ID, manufacturer, model ...), one instance per
 * host device.
 *
 * The server creates, writes and deletes instances; each holds the multiple
 * string resource Identity (0).  GetAuthData (1) is not supported (4.05),
 * and AuthData (2) and AuthStatus (3) are absent, since this client does no
 * authentication on behalf of a host.  After each change all instances are
 * saved to STATE_DIR/portfolio.json and read back at start; a damaged file is
 * reported and the object starts empty rather than half-filled. */
#include "objects.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "log.h"
#include "store.h"
#include "oma/oma_16.h"

#define STATE_FILE "portfolio.json"
/* Bounds, so that a server (or a damaged file) cannot eat a small gateway's
 * memory: instances, identities per instance, bytes per identity. */
#define MAX_INSTS 64
#define MAX_IDS 64
#define MAX_LEN 1024

struct identity {
	uint16_t riid;
	char *s;                /* NUL-terminated, valid UTF-8, no NUL inside */
};

struct pf_inst {
	struct dm_inst inst;
	struct identity *ids;   /* sorted by riid */
	size_t n;
};

struct portfolio {
	struct dm_obj obj;
	struct agent *ag;
};

static struct portfolio *pf_of(struct dm_obj *obj)
{
	return container_of(obj, struct portfolio, obj);
}

static struct pf_inst *pi_of(struct dm_inst *inst)
{
	return container_of(inst, struct pf_inst, inst);
}

static void ids_clear(struct pf_inst *pi)
{
	size_t i;

	for (i = 0; i < pi->n; i++)
		free(pi->ids[i].s);
	free(pi->ids);
	pi->ids = NULL;
	pi->n = 0;
}

static void inst_free(struct pf_inst *pi)
{
	ids_clear(pi);
	free(pi);
}

/* Strings go into JSON (ours and the server's SenML): they must be UTF-8. */
static bool utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, k, n;
	uint32_t c;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xC2 && p[i] <= 0xDF) {
			n = 1;
			c = p[i] & 0x1F;
		} else if (p[i] >= 0xE0 && p[i] <= 0xEF) {
			n = 2;
			c = p[i] & 0x0F;
		} else if (p[i] >= 0xF0 && p[i] <= 0xF4) {
			n = 3;
			c = p[i] & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			c = c << 6 | (p[i + k] & 0x3F);
		}
		/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
		if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) || c > 0x10FFFF ||
		    (c >= 0xD800 && c <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/* Checks an Identity value; LWM_EBADREQ or LWM_EENTITY with the reason in err. */
static int identity_check(const uint8_t *p, size_t len, struct errbuf *err)
{
	if (len > MAX_LEN)
		return errbuf_set(err, LWM_EENTITY, "longer than %d bytes", MAX_LEN);
	if (len && memchr(p, 0, len))
		return errbuf_set(err, LWM_EBADREQ, "contains a NUL character");
	if (!utf8_valid(p, len))
		return errbuf_set(err, LWM_EBADREQ, "not valid UTF-8");
	return 0;
}

/* Sets identity riid of pi to the len bytes at p (already checked).
 * 0, LWM_EBADREQ if pi has MAX_IDS already, or LWM_EINTERNAL. */
static int identity_set(struct pf_inst *pi, uint16_t riid, const uint8_t *p, size_t len)
{
	struct identity *ids;
	size_t i;
	char *s;

	for (i = 0; i < pi->n && pi->ids[i].riid < riid; i++)
		;
	if ((i == pi->n || pi->ids[i].riid != riid) && pi->n >= MAX_IDS)
		return LWM_EBADREQ;
	s = malloc(len + 1);
	if (!s)
		return LWM_EINTERNAL;
	if (len)
		memcpy(s, p, len);
	s[len] = 0;
	if (i < pi->n && pi->ids[i].riid == riid) {
		free(pi->ids[i].s);
		pi->ids[i].s = s;
		return 0;
	}
	ids = realloc(pi->ids, (pi->n + 1) * sizeof(*ids));
	if (!ids) {
		free(s);
		return LWM_EINTERNAL;
	}
	memmove(&ids[i + 1], &ids[i], (pi->n - i) * sizeof(*ids));
	ids[i] = (struct identity){ .riid = riid, .s = s };
	pi->ids = ids;
	pi->n++;
	return 0;
}

static size_t inst_count(struct dm_obj *obj)
{
	struct dm_inst *i;
	size_t n = 0;

	for (i = obj->insts; i; i = i->next)
		n++;
	return n;
}

/* ---- state file ------------------------------------------------------- */

/* "0".."65534" without sign, blanks or leading zeros; -1 otherwise. */
static int parse_id(const char *s)
{
	long v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > DM_MAX_ID)
			return -1;
	}
	return (int)v;
}

static int load_inst(struct portfolio *pf, size_t idx, json_t *j, struct errbuf *err)
{
	json_t *jid, *ids, *val;
	struct pf_inst *pi;
	const char *key;
	json_int_t id;
	int riid, rc;

	if (!json_is_object(j))
		return errbuf_set(err, -EINVAL, "instances[%zu] is not an object", idx);
	jid = json_object_get(j, "id");
	if (!json_is_integer(jid) || (id = json_integer_value(jid)) < 0 || id > DM_MAX_ID)
		return errbuf_set(err, -EINVAL, "instances[%zu]: \"id\" is not 0..%u", idx,
				  DM_MAX_ID);
	ids = json_object_get(j, "identity");
	if (ids && !json_is_object(ids))
		return errbuf_set(err, -EINVAL, "instance %d: \"identity\" is not an object",
				  (int)id);
	if (dm_find_inst(&pf->obj, (uint16_t)id))
		return errbuf_set(err, -EINVAL, "instance %d appears twice", (int)id);
	if (inst_count(&pf->obj) >= MAX_INSTS)
		return errbuf_set(err, -EINVAL, "more than %d instances", MAX_INSTS);
	pi = calloc(1, sizeof(*pi));
	if (!pi)
		return errbuf_set(err, -ENOMEM, "out of memory");
	pi->inst.id = (uint16_t)id;
	dm_inst_add(&pf->obj, &pi->inst);       /* owned by the object from here */
	json_object_foreach(ids, key, val) {
		char why[sizeof(err->msg)];

		if ((riid = parse_id(key)) < 0)
			return errbuf_set(err, -EINVAL, "instance %d: identity \"%s\" is not an "
					  "id 0..%u", (int)id, key, DM_MAX_ID);
		if (!json_is_string(val))
			return errbuf_set(err, -EINVAL, "instance %d: identity %d is not a string",
					  (int)id, riid);
		rc = identity_check((const uint8_t *)json_string_value(val),
				    json_string_length(val), err);
		if (rc) {
			memcpy(why, err->msg, sizeof(why));
			return errbuf_set(err, -EINVAL, "instance %d: identity %d: %s", (int)id,
					  riid, why);
		}
		rc = identity_set(pi, (uint16_t)riid, (const uint8_t *)json_string_value(val),
				  json_string_length(val));
		if (rc)
			return errbuf_set(err, -EINVAL, "instance %d: identity %d: %s", (int)id,
					  riid, rc == LWM_EBADREQ ? "too many identities" :
					  "out of memory");
	}
	return 0;
}

static void remove_all(struct portfolio *pf)
{
	struct dm_inst *i;

	while ((i = pf->obj.insts)) {
		dm_inst_unlink(&pf->obj, i);
		inst_free(pi_of(i));
	}
}

/* A missing file is the first start; anything wrong with it is logged and the
 * object starts empty (never with part of a damaged file). */
static void state_load(struct portfolio *pf)
{
	const char *dir = pf->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_t *root, *insts;
	size_t i;
	int rc;

	if (!dir)
		return;
	rc = store_read_json(dir, STATE_FILE, &root, &err);
	if (rc) {
		if (rc != -ENOENT)
			log_warn("16: %s; starting with no instances", err.msg);
		return;
	}
	insts = json_object_get(root, "instances");
	if (!json_is_object(root) || !json_is_array(insts)) {
		log_warn("16: %s/%s: no \"instances\" array; starting with no instances", dir,
			 STATE_FILE);
		goto out;
	}
	for (i = 0; i < json_array_size(insts); i++) {
		if (load_inst(pf, i, json_array_get(insts, i), &err)) {
			log_warn("16: %s/%s: %s; starting with no instances", dir, STATE_FILE,
				 err.msg);
			remove_all(pf);
			goto out;
		}
	}
	log_debug("16: %zu instance(s) from %s/%s", inst_count(&pf->obj), dir, STATE_FILE);
out:
	json_decref(root);
}

static json_t *inst_json(struct pf_inst *pi)
{
	json_t *j = json_object(), *ids = json_object();
	char key[8];
	size_t i;

	if (!j || !ids)
		goto fail;
	for (i = 0; i < pi->n; i++) {
		snprintf(key, sizeof(key), "%u", pi->ids[i].riid);
		if (json_object_set_new(ids, key, json_string(pi->ids[i].s)))
			goto fail;
	}
	if (json_object_set_new(j, "id", json_integer(pi->inst.id)) ||
	    json_object_set(j, "identity", ids))
		goto fail;
	json_decref(ids);
	return j;
fail:
	json_decref(ids);
	json_decref(j);
	return NULL;
}

static void state_save(struct portfolio *pf)
{
	const char *dir = pf->ag->cfg->state_dir;
	struct errbuf err = { "" };
	json_t *root, *insts;
	struct dm_inst *i;

	if (!dir)
		return;
	root = json_object();
	insts = json_array();
	if (!root || !insts || json_object_set(root, "instances", insts))
		goto oom;
	for (i = pf->obj.insts; i; i = i->next)
		if (json_array_append_new(insts, inst_json(pi_of(i))))
			goto oom;
	if (store_write_json(dir, STATE_FILE, root, JSON_INDENT(1), &err))
		log_err("16: cannot save instances: %s", err.msg);
	goto out;
oom:
	log_err("16: cannot save instances: out of memory");
out:
	json_decref(insts);
	json_decref(root);
}

/* ---- the object ------------------------------------------------------- */

static int pf_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct pf_inst *pi = pi_of(inst);
	struct dm_value v;
	size_t i;
	int rc;

	if (rid != OMA_16_IDENTITY)
		return LWM_ENOTFOUND;   /* AuthData, AuthStatus: absent */
	for (i = 0; i < pi->n; i++) {
		v = dm_str(pi->ids[i].s);
		if ((rc = dm_out_inst(out, pi->ids[i].riid, &v)))
			return rc;
	}
	return 0;
}

static int pf_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
		    const struct dm_value *v)
{
	struct errbuf err = { "" };
	int rc;

	if (rid != OMA_16_IDENTITY)
		return LWM_ENOTALLOWED;
	if (riid == DM_NONE) {
		log_err("bug: 16/%u/0: write without an instance id", inst->id);
		return LWM_EBADREQ;
	}
	rc = identity_check(v->bytes.p, v->bytes.len, &err);
	if (rc) {
		log_info("16/%u/0/%u: refused: %s", inst->id, riid, err.msg);
		return rc;
	}
	rc = identity_set(pi_of(inst), riid, v->bytes.p, v->bytes.len);
	if (rc == LWM_EBADREQ)
		log_info("16/%u/0/%u: refused: more than %d identities", inst->id, riid, MAX_IDS);
	return rc;
}

static int pf_clear(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid)
{
	if (rid != OMA_16_IDENTITY)
		return LWM_ENOTALLOWED;
	ids_clear(pi_of(inst));
	return 0;
}

static int pf_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
		      const char *args, size_t len)
{
	if (rid == OMA_16_GET_AUTH_DATA)
		log_info("16/%u: GetAuthData refused: not supported", inst->id);
	return LWM_ENOTALLOWED;
}

static int pf_create(struct dm_obj *obj, uint16_t iid, struct dm_inst **out)
{
	struct pf_inst *pi;

	if (inst_count(obj) >= MAX_INSTS) {
		log_info("16: create refused: already %d instances", MAX_INSTS);
		return LWM_EBADREQ;
	}
	pi = calloc(1, sizeof(*pi));
	if (!pi)
		return LWM_EINTERNAL;
	pi->inst.id = iid;
	*out = &pi->inst;
	return 0;
}

static int pf_remove(struct dm_obj *obj, struct dm_inst *inst)
{
	inst_free(pi_of(inst));
	return 0;
}

static void pf_changed(struct dm_obj *obj, struct dm_inst *inst)
{
	state_save(pf_of(obj));
}

static const struct dm_ops portfolio_ops = {
	.read    = pf_read,
	.write   = pf_write,
	.clear   = pf_clear,
	.execute = pf_execute,          /* GetAuthData: 4.05 */
	.create  = pf_create,
	.remove  = pf_remove,
	.changed = pf_changed,
};

struct dm_obj *portfolio_obj_new(struct agent *ag)
{
	struct portfolio *pf = calloc(1, sizeof(*pf));

	if (!pf) {
		log_err("16: out of memory");
		return NULL;
	}
	pf->ag = ag;
	pf->obj = (struct dm_obj){
		.oid = 16,
		.version = OMA_16_VERSION,
		.multi_inst = OMA_16_MULTI,
		.res = oma_16_res,
		.nres = sizeof(oma_16_res) / sizeof(oma_16_res[0]),
		.ops = &portfolio_ops,
	};
	state_load(pf);
	return &pf->obj;
}

void portfolio_obj_free(struct dm_obj *obj)
{
	struct portfolio *pf;

	if (!obj)
		return;
	pf = pf_of(obj);
	remove_all(pf);
	free(pf);
}
