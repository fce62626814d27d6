/* dm.c - the object registry and the one dispatcher of server requests.
 *
 * Every request path goes through dm_handle(): it finds the object, instance
 * and resource, checks the operation against the resource table, decodes and
 * coerces payloads, calls the object's ops and encodes the answer.  Objects
 * only ever see typed values; this file never sees a CoAP PDU (coap.c turns a
 * struct dm_req into one).  Security (0) is the client's own business: the
 * server gets 4.01 for it, as LwM2M reserves it for bootstrap. */
#include "dm.h"
#include "dm_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "codec.h"
#include "log.h"

struct dm {
	struct dm_obj *objs;
	dm_links_changed_fn links_fn;
	void *links_arg;
	dm_changed_fn changed_fn;
	void *changed_arg;
	struct attr_store *attrs;
	size_t stream_skip;             /* TLV header bytes before a streamed value */
};

struct dm_out {
	struct dm_recs *recs;
	struct dm_path path;            /* /o/i/r being read */
	uint16_t want_riid;             /* DM_NONE: all instances */
	const struct dm_res_def *def;
	size_t emitted;
};

struct dm *dm_new(void)
{
	return calloc(1, sizeof(struct dm));
}

void dm_free(struct dm *dm)
{
	free(dm);
}

void dm_set_links_hook(struct dm *dm, dm_links_changed_fn fn, void *arg)
{
	dm->links_fn = fn;
	dm->links_arg = arg;
}

void dm_links_changed(struct dm *dm)
{
	if (dm->links_fn)
		dm->links_fn(dm->links_arg);
}

void dm_set_changed_hook(struct dm *dm, dm_changed_fn fn, void *arg)
{
	dm->changed_fn = fn;
	dm->changed_arg = arg;
}

void dm_changed(struct dm *dm, const struct dm_path *path)
{
	if (dm && dm->changed_fn)
		dm->changed_fn(dm->changed_arg, path);
}

void dm_set_attrs(struct dm *dm, struct attr_store *attrs)
{
	dm->attrs = attrs;
}

int dm_register(struct dm *dm, struct dm_obj *obj)
{
	struct dm_obj **pp;

	for (pp = &dm->objs; *pp && (*pp)->oid < obj->oid; pp = &(*pp)->next)
		;
	if (*pp && (*pp)->oid == obj->oid)
		return LWM_EBADREQ;
	obj->next = *pp;
	obj->dm = dm;
	*pp = obj;
	return 0;
}

void dm_unregister(struct dm *dm, struct dm_obj *obj)
{
	struct dm_obj **pp;

	for (pp = &dm->objs; *pp; pp = &(*pp)->next) {
		if (*pp == obj) {
			*pp = obj->next;
			return;
		}
	}
}

struct dm_obj *dm_first(struct dm *dm)
{
	return dm->objs;
}

struct dm_obj *dm_find_obj(struct dm *dm, uint16_t oid)
{
	struct dm_obj *o;

	for (o = dm->objs; o && o->oid <= oid; o = o->next)
		if (o->oid == oid)
			return o;
	return NULL;
}

struct dm_inst *dm_find_inst(struct dm_obj *obj, uint16_t iid)
{
	struct dm_inst *i;

	for (i = obj->insts; i && i->id <= iid; i = i->next)
		if (i->id == iid)
			return i;
	return NULL;
}

const struct dm_res_def *dm_find_res(const struct dm_obj *obj, uint16_t rid)
{
	size_t lo = 0, hi = obj->nres;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (obj->res[mid].id == rid)
			return &obj->res[mid];
		if (obj->res[mid].id < rid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int dm_inst_add(struct dm_obj *obj, struct dm_inst *inst)
{
	struct dm_inst **pp;

	for (pp = &obj->insts; *pp && (*pp)->id < inst->id; pp = &(*pp)->next)
		;
	if (*pp && (*pp)->id == inst->id)
		return LWM_EBADREQ;
	inst->next = *pp;
	*pp = inst;
	return 0;
}

void dm_inst_unlink(struct dm_obj *obj, struct dm_inst *inst)
{
	struct dm_inst **pp;

	for (pp = &obj->insts; *pp; pp = &(*pp)->next) {
		if (*pp == inst) {
			*pp = inst->next;
			inst->next = NULL;
			return;
		}
	}
}

static uint16_t free_iid(struct dm_obj *obj)
{
	uint16_t id = 0;
	struct dm_inst *i;

	for (i = obj->insts; i && i->id == id; i = i->next)
		id++;
	return id;
}

/* ---- reading ---------------------------------------------------------- */

int dm_out_value(struct dm_out *out, const struct dm_value *v)
{
	if (out->def->multiple) {
		log_err("bug: %u/%u: single value for a multiple resource", out->path.id[0],
			out->path.id[2]);
		return LWM_EINTERNAL;
	}
	out->emitted++;
	return dm_recs_add(out->recs, &out->path, v);
}

int dm_out_inst(struct dm_out *out, uint16_t riid, const struct dm_value *v)
{
	struct dm_path p = out->path;

	if (!out->def->multiple) {
		log_err("bug: %u/%u: instance value for a single resource", out->path.id[0],
			out->path.id[2]);
		return LWM_EINTERNAL;
	}
	if (out->want_riid != DM_NONE && out->want_riid != riid)
		return 0;
	out->emitted++;
	p.id[3] = riid;
	p.len = 4;
	return dm_recs_add(out->recs, &p, v);
}

static int read_res(struct dm_obj *obj, struct dm_inst *inst, const struct dm_res_def *def,
		    uint16_t riid, struct dm_recs *recs)
{
	struct dm_out out = {
		.recs = recs,
		.path = { .id = { obj->oid, inst->id, def->id }, .len = 3 },
		.want_riid = riid,
		.def = def,
	};
	int rc;

	if (!obj->ops->read)
		return LWM_ENOTALLOWED;
	rc = obj->ops->read(obj, inst, def->id, &out);
	if (rc == 0 && riid != DM_NONE && !out.emitted)
		return LWM_ENOTFOUND;
	return rc;
}

static int read_inst(struct dm_obj *obj, struct dm_inst *inst, struct dm_recs *recs)
{
	size_t i;
	int rc;

	for (i = 0; i < obj->nres; i++) {
		if (!(obj->res[i].ops & DM_OP_R))
			continue;
		rc = read_res(obj, inst, &obj->res[i], DM_NONE, recs);
		/* absent optional resources and failing sensors are left out of
		 * an instance read; the instance itself is still there */
		if (rc == LWM_ENOTFOUND || rc == LWM_EUNAVAIL)
			continue;
		if (rc)
			return rc;
	}
	return 0;
}

static int read_obj(struct dm_obj *obj, struct dm_recs *recs)
{
	struct dm_inst *inst;
	int rc;

	for (inst = obj->insts; inst; inst = inst->next)
		if ((rc = read_inst(obj, inst, recs)))
			return rc;
	return 0;
}

int dm_read(struct dm *dm, const struct dm_path *path, bool internal, struct dm_recs *recs)
{
	const struct dm_res_def *def;
	struct dm_inst *inst;
	struct dm_obj *obj;
	int rc;

	if (path->len == 0) {
		for (obj = dm->objs; obj; obj = obj->next)
			if ((obj->oid != 0 || internal) && (rc = read_obj(obj, recs)))
				return rc;
		return 0;
	}
	if (!(obj = dm_find_obj(dm, path->id[0])))
		return LWM_ENOTFOUND;
	if (obj->oid == 0 && !internal)
		return LWM_EUNAUTH;
	if (path->len == 1)
		return read_obj(obj, recs);
	if (!(inst = dm_find_inst(obj, path->id[1])))
		return LWM_ENOTFOUND;
	if (path->len == 2)
		return read_inst(obj, inst, recs);
	if (!(def = dm_find_res(obj, path->id[2])))
		return LWM_ENOTFOUND;
	if (!(def->ops & DM_OP_R))
		return LWM_ENOTALLOWED;
	if (path->len == 4 && !def->multiple)
		return LWM_ENOTFOUND;
	return read_res(obj, inst, def, path->len == 4 ? path->id[3] : DM_NONE, recs);
}

/* ---- discover --------------------------------------------------------- */

/* Counts the instances of a multiple resource, for the dim attribute. */
static int res_dim(struct dm_obj *obj, struct dm_inst *inst, const struct dm_res_def *def)
{
	struct dm_recs recs;
	int rc, n;

	dm_recs_init(&recs);
	rc = read_res(obj, inst, def, DM_NONE, &recs);
	n = rc ? -1 : (int)recs.n;
	dm_recs_fini(&recs);
	return n;
}

static bool res_present(struct dm_obj *obj, struct dm_inst *inst, const struct dm_res_def *def)
{
	struct dm_recs recs;
	int rc;

	if (!(def->ops & DM_OP_R))
		return def->mandatory || (obj->ops->execute && (def->ops & DM_OP_E)) ||
		       (def->ops & DM_OP_W);
	dm_recs_init(&recs);
	rc = read_res(obj, inst, def, DM_NONE, &recs);
	dm_recs_fini(&recs);
	return rc != LWM_ENOTFOUND;
}

/* Appends the attributes written to path, for Discover. */
static void add_attrs(struct dm *dm, struct buf *out, const struct dm_path *p)
{
	if (dm->attrs)
		attr_format(dm->attrs, p, out);
}

static int discover_res(struct buf *out, struct dm_obj *obj, struct dm_inst *inst,
			const struct dm_res_def *def)
{
	struct dm_path p = { .id = { obj->oid, inst->id, def->id }, .len = 3 };
	char uri[32], dim[12];
	struct link_attr a = { "dim", dim };
	int n, rc;

	snprintf(uri, sizeof(uri), "/%u/%u/%u", obj->oid, inst->id, def->id);
	if (def->multiple && (n = res_dim(obj, inst, def)) >= 0) {
		snprintf(dim, sizeof(dim), "%d", n);
		rc = codec_link_add(out, uri, &a, 1);
	} else {
		rc = codec_link_add(out, uri, NULL, 0);
	}
	add_attrs(obj->dm, out, &p);
	return rc;
}

static int discover_inst(struct buf *out, struct dm_obj *obj, struct dm_inst *inst)
{
	char uri[32];
	size_t i;
	int rc;

	snprintf(uri, sizeof(uri), "/%u/%u", obj->oid, inst->id);
	if ((rc = codec_link_add(out, uri, NULL, 0)))
		return rc;
	add_attrs(obj->dm, out, &(struct dm_path){ .id = { obj->oid, inst->id }, .len = 2 });
	for (i = 0; i < obj->nres; i++)
		if (res_present(obj, inst, &obj->res[i]) &&
		    (rc = discover_res(out, obj, inst, &obj->res[i])))
			return rc;
	return 0;
}

static int dm_discover(struct dm *dm, const struct dm_path *path, struct buf *out)
{
	const struct dm_res_def *def;
	struct link_attr a = { "ver", NULL };
	struct dm_inst *inst;
	struct dm_obj *obj;
	char uri[16];
	int rc;

	if (path->len == 0 || path->len == 4)
		return LWM_EBADREQ;
	if (!(obj = dm_find_obj(dm, path->id[0])))
		return LWM_ENOTFOUND;
	if (obj->oid == 0)
		return LWM_EUNAUTH;
	if (path->len == 1) {
		snprintf(uri, sizeof(uri), "/%u", obj->oid);
		a.value = obj->version;
		if ((rc = codec_link_add(out, uri, &a,
					 obj->version && strcmp(obj->version, "1.0") ? 1 : 0)))
			return rc;
		add_attrs(dm, out, path);
		for (inst = obj->insts; inst; inst = inst->next)
			if ((rc = discover_inst(out, obj, inst)))
				return rc;
		return 0;
	}
	if (!(inst = dm_find_inst(obj, path->id[1])))
		return LWM_ENOTFOUND;
	if (path->len == 2)
		return discover_inst(out, obj, inst);
	if (!(def = dm_find_res(obj, path->id[2])) || !res_present(obj, inst, def))
		return LWM_ENOTFOUND;
	if ((rc = discover_res(out, obj, inst, def)))
		return rc;
	if (def->multiple && (def->ops & DM_OP_R)) {
		/* a Discover of a multiple resource also names its instances,
		 * with the attributes attached to each (LwM2M 1.1 5.4.2) */
		struct dm_recs recs;
		char ri[40];
		size_t i;

		dm_recs_init(&recs);
		rc = read_res(obj, inst, def, DM_NONE, &recs);
		for (i = 0; !rc && i < recs.n; i++) {
			dm_path_str(&recs.r[i].path, ri, sizeof(ri));
			rc = codec_link_add(out, ri, NULL, 0);
			add_attrs(dm, out, &recs.r[i].path);
		}
		dm_recs_fini(&recs);
	}
	return rc;
}

/* ---- writing ---------------------------------------------------------- */

/* Checks every record of a write to obj/inst before anything is applied, so a
 * bad record leaves the instance as it was.  Coerced values go to vals. */
static int check_write(struct dm_obj *obj, uint16_t iid, const struct dm_recs *recs,
		       struct dm_value *vals, struct buf *scratch, struct errbuf *err)
{
	const struct dm_res_def *def;
	char p[32];
	size_t i;
	int rc;

	for (i = 0; i < recs->n; i++) {
		const struct dm_rec *r = &recs->r[i];

		dm_path_str(&r->path, p, sizeof(p));
		if (r->path.len < 3 || r->path.id[0] != obj->oid || r->path.id[1] != iid)
			return errbuf_set(err, LWM_EBADREQ, "%s: not a resource of /%u/%u", p,
					  obj->oid, iid);
		if (!(def = dm_find_res(obj, r->path.id[2])))
			return errbuf_set(err, LWM_ENOTFOUND, "%s: no such resource", p);
		if (!(def->ops & DM_OP_W))
			return errbuf_set(err, LWM_ENOTALLOWED, "%s: %s is not writable", p,
					  def->name);
		if ((r->path.len == 4) != def->multiple && r->v.type != DM_T_NONE)
			return errbuf_set(err, LWM_EBADREQ, "%s: %s is a %s resource", p, def->name,
					  def->multiple ? "multiple" : "single");
		if (r->v.type == DM_T_NONE) {
			/* an empty multiple resource (TLV, LwM2M CBOR): a replace
			 * clears it and writes nothing */
			if (r->path.len != 3 || !def->multiple)
				return errbuf_set(err, LWM_EBADREQ, "%s: no value", p);
			vals[i].type = DM_T_NONE;
			continue;
		}
		rc = dm_value_coerce_buf(&r->v, def->type, &vals[i], scratch, err);
		if (rc) {
			char reason[sizeof(err->msg)];

			memcpy(reason, err->msg, sizeof(reason));
			return errbuf_set(err, rc, "%s: %s", p, reason);
		}
	}
	return 0;
}

/* Applies a checked write.  replace: multiple resources named in the
 * payload lose their other instances first. */
static int apply_write(struct dm_obj *obj, struct dm_inst *inst, const struct dm_recs *recs,
		       const struct dm_value *vals, bool replace, struct errbuf *err)
{
	char p[32];
	size_t i, j;
	int rc;

	if (!obj->ops->write)
		return errbuf_set(err, LWM_ENOTALLOWED, "/%u: object is read-only", obj->oid);
	for (i = 0; i < recs->n; i++) {
		const struct dm_path *rp = &recs->r[i].path;
		bool first = true;

		if (!replace || !dm_find_res(obj, rp->id[2])->multiple)
			continue;
		for (j = 0; j < i; j++)
			if (recs->r[j].path.id[2] == rp->id[2])
				first = false;
		if (first && obj->ops->clear && (rc = obj->ops->clear(obj, inst, rp->id[2])))
			return errbuf_set(err, rc, "/%u/%u/%u: cannot clear", obj->oid, inst->id,
					  rp->id[2]);
	}
	for (i = 0; i < recs->n; i++) {
		const struct dm_path *rp = &recs->r[i].path;

		if (vals[i].type == DM_T_NONE)
			continue;
		rc = obj->ops->write(obj, inst, rp->id[2], rp->len == 4 ? rp->id[3] : DM_NONE,
				     &vals[i]);
		if (rc) {
			dm_path_str(rp, p, sizeof(p));
			return errbuf_set(err, rc, "%s: value refused", p);
		}
	}
	return 0;
}

static int write_recs(struct dm_obj *obj, struct dm_inst *inst, const struct dm_recs *recs,
		      bool replace, struct errbuf *err)
{
	struct dm_value *vals;
	struct buf scratch;
	int rc;

	if (!recs->n)
		return 0;
	vals = calloc(recs->n, sizeof(*vals));
	if (!vals)
		return LWM_EINTERNAL;
	buf_init(&scratch);
	rc = check_write(obj, inst->id, recs, vals, &scratch, err);
	if (!rc)
		rc = apply_write(obj, inst, recs, vals, replace, err);
	buf_fini(&scratch);
	free(vals);
	return rc;
}

/* ---- the dispatcher --------------------------------------------------- */

static int decode_payload(const struct dm_req *req, struct dm_recs *recs, struct errbuf *err)
{
	if (req->format == LWM_FMT_NONE)
		return errbuf_set(err, LWM_EBADREQ, "no Content-Format");
	/* an empty string or opaque value is a value (an empty Package URI
	 * resets Firmware Update); an empty TLV or SenML body is not */
	if (!req->len && !(req->path.len >= 3 && (req->format == LWM_FMT_TEXT ||
						  req->format == LWM_FMT_OPAQUE)))
		return errbuf_set(err, LWM_EBADREQ, "empty payload");
	return codec_decode(req->format, &req->path, req->payload, req->len, recs, err);
}

static int choose_format(const struct dm_path *base, const struct dm_recs *recs)
{
	if (base->len >= 3 && recs->n == 1 && recs->r[0].path.len == base->len)
		return recs->r[0].v.type == DM_T_OPAQUE ? LWM_FMT_OPAQUE : LWM_FMT_TEXT;
	return LWM_FMT_TLV;
}

/* Reads each path of a composite request into recs; paths that do not exist
 * are left out (LwM2M 1.1 6.3.8: a partial answer, not an error). */
static int read_composite(struct dm *dm, const struct dm_path *paths, size_t n,
			  struct dm_recs *recs, struct errbuf *err)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = dm_read(dm, &paths[i], false, recs);
		if (rc == LWM_ENOTFOUND)
			continue;
		if (rc) {
			char p[32];

			dm_path_str(&paths[i], p, sizeof(p));
			return errbuf_set(err, rc, "%s cannot be read", p);
		}
	}
	return 0;
}

int dm_default_format(struct dm *dm, const struct dm_path *paths, size_t n, bool composite)
{
	struct dm_recs recs;
	int f;

	if (composite)
		return LWM_FMT_SENML_CBOR;
	dm_recs_init(&recs);
	dm_read(dm, &paths[0], false, &recs);
	f = choose_format(&paths[0], &recs);
	dm_recs_fini(&recs);
	return f;
}

int dm_read_encode(struct dm *dm, const struct dm_path *paths, size_t n, bool composite,
		   int format, struct buf *out, struct errbuf *err)
{
	struct dm_path root = { .len = 0 };
	struct dm_recs recs;
	int rc;

	dm_recs_init(&recs);
	if (composite)
		rc = read_composite(dm, paths, n, &recs, err);
	else
		rc = dm_read(dm, &paths[0], false, &recs);
	if (!rc) {
		if (format == LWM_FMT_NONE)
			format = composite ? LWM_FMT_SENML_CBOR : choose_format(&paths[0], &recs);
		rc = codec_encode(format, composite ? &root : &paths[0], &recs, out, err);
	}
	dm_recs_fini(&recs);
	return rc;
}

static int do_read(struct dm *dm, const struct dm_req *req, struct dm_resp *resp,
		   struct errbuf *err)
{
	struct dm_recs recs;
	int rc;

	if (req->accept == LWM_FMT_LINK) {
		resp->format = LWM_FMT_LINK;
		if ((rc = dm_discover(dm, &req->path, &resp->body)))
			return rc;
		return COAP_RESPONSE_CODE(205);
	}
	dm_recs_init(&recs);
	rc = dm_read(dm, &req->path, false, &recs);
	if (!rc) {
		resp->format = req->accept != LWM_FMT_NONE ? req->accept :
			       choose_format(&req->path, &recs);
		rc = codec_encode(resp->format, &req->path, &recs, &resp->body, err);
	}
	dm_recs_fini(&recs);
	return rc ? rc : COAP_RESPONSE_CODE(205);
}

/* The paths named by a Read-Composite or Observe-Composite body. */
int dm_composite_paths(const struct dm_req *req, struct dm_path *paths, size_t max, size_t *n,
		       struct errbuf *err)
{
	struct dm_path root = { .len = 0 };
	struct dm_recs recs;
	size_t i;
	int rc;

	if (req->format != LWM_FMT_SENML_JSON && req->format != LWM_FMT_SENML_CBOR &&
	    req->format != LWM_FMT_LWM2M_CBOR)
		return errbuf_set(err, LWM_EFORMAT, "a composite request must be SenML or LwM2M CBOR");
	dm_recs_init(&recs);
	rc = codec_decode(req->format, &root, req->payload, req->len, &recs, err);
	if (!rc && !recs.n)
		rc = errbuf_set(err, LWM_EBADREQ, "no paths in the request");
	if (!rc && recs.n > max)
		rc = errbuf_set(err, LWM_EBADREQ, "more than %zu paths", max);
	for (i = 0; !rc && i < recs.n; i++)
		paths[i] = recs.r[i].path;
	*n = rc ? 0 : recs.n;
	dm_recs_fini(&recs);
	return rc;
}

static int do_read_composite(struct dm *dm, const struct dm_req *req, struct dm_resp *resp,
			     struct errbuf *err)
{
	struct dm_path paths[64];
	size_t i, n;
	int rc;

	if (req->path.len)
		return errbuf_set(err, LWM_ENOTALLOWED, "Read-Composite goes to the root path");
	if ((rc = dm_composite_paths(req, paths, 64, &n, err)))
		return rc;
	for (i = 0; i < n; i++)
		if (paths[i].len && paths[i].id[0] == 0)
			return errbuf_set(err, LWM_EUNAUTH, "the Security object is not for servers");
	resp->format = req->accept != LWM_FMT_NONE ? req->accept : req->format;
	if (resp->format != LWM_FMT_SENML_JSON && resp->format != LWM_FMT_SENML_CBOR &&
	    resp->format != LWM_FMT_LWM2M_CBOR)
		return errbuf_set(err, LWM_ENOTACCEPT, "composite content must be SenML or LwM2M CBOR");
	rc = dm_read_encode(dm, paths, n, true, resp->format, &resp->body, err);
	return rc ? rc : COAP_RESPONSE_CODE(205);
}

static int do_create(struct dm *dm, struct dm_obj *obj, const struct dm_req *req,
		     struct dm_resp *resp, struct errbuf *err)
{
	struct dm_inst *inst = NULL;
	struct dm_recs recs;
	uint16_t iid = DM_NONE;
	size_t i;
	int rc;

	if (!obj->ops->create)
		return errbuf_set(err, LWM_ENOTALLOWED, "/%u: instances cannot be created",
				  obj->oid);
	dm_recs_init(&recs);
	if ((rc = decode_payload(req, &recs, err)))
		goto out;
	for (i = 0; i < recs.n; i++) {
		uint16_t id = recs.r[i].path.len >= 2 ? recs.r[i].path.id[1] : DM_NONE;

		if (i && id != iid) {
			rc = errbuf_set(err, LWM_EBADREQ, "create of more than one instance");
			goto out;
		}
		iid = id;
	}
	if (iid == DM_NONE) {
		iid = free_iid(obj);
		for (i = 0; i < recs.n; i++) {
			recs.r[i].path.id[1] = iid;
			if (recs.r[i].path.len < 2)
				recs.r[i].path.len = 2;
		}
	}
	if (iid > DM_MAX_ID || (!obj->multi_inst && obj->insts)) {
		rc = errbuf_set(err, LWM_EBADREQ, "/%u: no room for another instance", obj->oid);
		goto out;
	}
	if (dm_find_inst(obj, iid)) {
		rc = errbuf_set(err, LWM_EBADREQ, "/%u/%u exists already", obj->oid, iid);
		goto out;
	}
	if ((rc = obj->ops->create(obj, iid, &inst)))
		goto out;
	inst->id = iid;
	dm_inst_add(obj, inst);
	rc = write_recs(obj, inst, &recs, true, err);
	if (rc) {
		dm_inst_unlink(obj, inst);
		obj->ops->remove(obj, inst);
		goto out;
	}
	snprintf(resp->location, sizeof(resp->location), "%u/%u", obj->oid, iid);
	if (obj->ops->changed)
		obj->ops->changed(obj, inst);
	dm_links_changed(dm);
	dm_changed(dm, &(struct dm_path){ .id = { obj->oid }, .len = 1 });
	rc = COAP_RESPONSE_CODE(201);
out:
	dm_recs_fini(&recs);
	return rc;
}

static int do_write(struct dm_obj *obj, struct dm_inst *inst, const struct dm_req *req,
		    bool replace, struct errbuf *err)
{
	struct dm_recs recs;
	int rc;

	dm_recs_init(&recs);
	rc = decode_payload(req, &recs, err);
	if (!rc && !recs.n)
		rc = errbuf_set(err, LWM_EBADREQ, "no values in the payload");
	if (!rc && req->path.len == 3) {
		const struct dm_res_def *def = dm_find_res(obj, req->path.id[2]);
		size_t i;

		for (i = 0; i < recs.n && def; i++)
			if (recs.r[i].path.id[2] != def->id)
				rc = errbuf_set(err, LWM_EBADREQ, "payload names another resource");
	}
	if (!rc)
		rc = write_recs(obj, inst, &recs, replace, err);
	if (!rc && obj->ops->changed)
		obj->ops->changed(obj, inst);
	if (!rc)
		dm_changed(obj->dm, &req->path);
	dm_recs_fini(&recs);
	return rc ? rc : COAP_RESPONSE_CODE(204);
}

/* Write-Composite (iPATCH): every instance named is checked before any is
 * written, so a bad record changes nothing. */
static int do_write_composite(struct dm *dm, const struct dm_req *req, struct errbuf *err)
{
	struct dm_path root = { .len = 0 };
	struct dm_recs recs, one;
	size_t i, j;
	int rc;

	if (req->path.len)
		return errbuf_set(err, LWM_ENOTALLOWED, "Write-Composite goes to the root path");
	if (req->format != LWM_FMT_SENML_JSON && req->format != LWM_FMT_SENML_CBOR &&
	    req->format != LWM_FMT_LWM2M_CBOR)
		return errbuf_set(err, LWM_EFORMAT, "a composite write must be SenML or LwM2M CBOR");
	dm_recs_init(&recs);
	rc = codec_decode(req->format, &root, req->payload, req->len, &recs, err);
	if (!rc && !recs.n)
		rc = errbuf_set(err, LWM_EBADREQ, "no values in the request");
	/* pass 1: everything exists and is writable with the right type */
	for (i = 0; !rc && i < recs.n; i++) {
		const struct dm_path *p = &recs.r[i].path;
		struct dm_obj *obj = NULL;
		struct dm_value v;
		struct buf scratch;
		char ps[32];

		dm_path_str(p, ps, sizeof(ps));
		if (p->len < 3)
			rc = errbuf_set(err, LWM_EBADREQ, "%s: composite writes name resources", ps);
		else if (!(obj = dm_find_obj(dm, p->id[0])))
			rc = errbuf_set(err, LWM_ENOTFOUND, "%s: no such object", ps);
		else if (obj->oid == 0)
			rc = errbuf_set(err, LWM_EUNAUTH, "the Security object is not for servers");
		else if (!dm_find_inst(obj, p->id[1]))
			rc = errbuf_set(err, LWM_ENOTFOUND, "%s: no such instance", ps);
		if (rc)
			break;
		dm_recs_init(&one);
		buf_init(&scratch);
		rc = dm_recs_add(&one, p, &recs.r[i].v);
		if (!rc)
			rc = check_write(obj, p->id[1], &one, &v, &scratch, err);
		buf_fini(&scratch);
		dm_recs_fini(&one);
	}
	/* pass 2: write instance by instance, in the order they came */
	for (i = 0; !rc && i < recs.n; i++) {
		const struct dm_path *p = &recs.r[i].path;
		struct dm_obj *obj = dm_find_obj(dm, p->id[0]);
		struct dm_inst *inst = dm_find_inst(obj, p->id[1]);
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = recs.r[j].path.id[0] == p->id[0] && recs.r[j].path.id[1] == p->id[1];
		if (seen)
			continue;
		dm_recs_init(&one);
		for (j = i; j < recs.n && !rc; j++)
			if (recs.r[j].path.id[0] == p->id[0] && recs.r[j].path.id[1] == p->id[1])
				rc = dm_recs_add(&one, &recs.r[j].path, &recs.r[j].v);
		if (!rc)
			rc = write_recs(obj, inst, &one, false, err);
		if (!rc && obj->ops->changed)
			obj->ops->changed(obj, inst);
		dm_recs_fini(&one);
		if (!rc)
			dm_changed(dm, &(struct dm_path){ .id = { p->id[0], p->id[1] }, .len = 2 });
	}
	dm_recs_fini(&recs);
	return rc ? rc : COAP_RESPONSE_CODE(204);
}

static int do_execute(struct dm_obj *obj, struct dm_inst *inst, const struct dm_res_def *def,
		      const struct dm_req *req, struct errbuf *err)
{
	int rc;

	if (!(def->ops & DM_OP_E) || !obj->ops->execute)
		return errbuf_set(err, LWM_ENOTALLOWED, "%s is not executable", def->name);
	rc = obj->ops->execute(obj, inst, def->id, (const char *)req->payload, req->len);
	if (!rc)        /* Reset Min and Max, Reset Error Code, ... change values */
		dm_changed(obj->dm, &(struct dm_path){ .id = { obj->oid, inst->id }, .len = 2 });
	return rc ? rc : COAP_RESPONSE_CODE(204);
}

static int do_delete(struct dm *dm, struct dm_obj *obj, struct dm_inst *inst,
		     const struct dm_req *req, struct errbuf *err)
{
	int rc;

	if (req->path.len != 2)
		return errbuf_set(err, LWM_ENOTALLOWED, "only instances can be deleted");
	if (!obj->ops->remove)
		return errbuf_set(err, LWM_ENOTALLOWED, "/%u: instances cannot be deleted",
				  obj->oid);
	dm_inst_unlink(obj, inst);
	if ((rc = obj->ops->remove(obj, inst)))
		return rc;
	if (obj->ops->changed)
		obj->ops->changed(obj, NULL);
	if (dm->attrs)
		attr_forget(dm->attrs, &req->path);
	dm_links_changed(dm);
	dm_changed(dm, &req->path);
	dm_changed(dm, &(struct dm_path){ .id = { obj->oid }, .len = 1 });
	return COAP_RESPONSE_CODE(202);
}

/* LwM2M CBOR came with LwM2M 1.2: a 1.1 registration neither offers nor
 * reads it (4.06 / 4.15, as for any format we do not speak). */
static int check_version_formats(const struct dm_req *req, struct errbuf *err)
{
	if (req->v12)
		return 0;
	if (req->accept == LWM_FMT_LWM2M_CBOR)
		return errbuf_set(err, LWM_ENOTACCEPT, "LwM2M CBOR needs an LwM2M 1.2 registration");
	if (req->format == LWM_FMT_LWM2M_CBOR && req->len)
		return errbuf_set(err, LWM_EFORMAT, "LwM2M CBOR needs an LwM2M 1.2 registration");
	return 0;
}

/* ---- block-wise writes of one large opaque value ------------------------ */

bool dm_streams(struct dm *dm, const struct dm_req *req)
{
	const struct dm_res_def *def;
	struct dm_obj *obj;

	if ((req->method != DM_M_PUT && req->method != DM_M_POST) || req->path.len != 3 ||
	    (req->format != LWM_FMT_OPAQUE && req->format != LWM_FMT_TLV) ||
	    !(obj = dm_find_obj(dm, req->path.id[0])) || !obj->ops->write_block ||
	    !dm_find_inst(obj, req->path.id[1]))
		return false;
	def = dm_find_res(obj, req->path.id[2]);
	return def && def->type == DM_T_OPAQUE && !def->multiple && (def->ops & DM_OP_W);
}

/* The length of the TLV header of a resource-with-value record for rid at
 * the start of p (RFC-less OMA TLV: type byte, 8/16-bit id, 0..3 length
 * bytes), with the value length in *vlen; LWM_EBADREQ if p does not start
 * with one.  The header always fits in the first block (16 bytes or more). */
static int tlv_header(const uint8_t *p, size_t len, uint16_t rid, size_t *vlen,
		      struct errbuf *err)
{
	size_t idlen, lenlen, n, i;
	uint16_t id;

	if (len < 2 || (p[0] & 0xC0) != 0xC0)
		return errbuf_set(err, LWM_EBADREQ, "TLV: not a resource value");
	idlen = p[0] & 0x20 ? 2 : 1;
	lenlen = (p[0] >> 3) & 3;
	n = 1 + idlen + lenlen;
	if (len < n)
		return errbuf_set(err, LWM_EBADREQ, "TLV: truncated header");
	id = idlen == 2 ? (uint16_t)(p[1] << 8 | p[2]) : p[1];
	if (id != rid)
		return errbuf_set(err, LWM_EBADREQ, "TLV: payload names resource %u", id);
	*vlen = lenlen ? 0 : (size_t)(p[0] & 7);
	for (i = 0; i < lenlen; i++)
		*vlen = *vlen << 8 | p[1 + idlen + i];
	return (int)n;
}

/* One Block1 piece of a Write to a write_block resource: the value's bytes
 * go to the object as they come (an opaque body is the value; a TLV body
 * loses its header first), so the core never holds the whole value. */
static int do_write_block(struct dm *dm, const struct dm_req *req, struct errbuf *err)
{
	struct dm_obj *obj = dm_find_obj(dm, req->path.id[0]);
	struct dm_inst *inst = dm_find_inst(obj, req->path.id[1]);
	const uint8_t *p = req->payload;
	size_t len = req->len, vlen = 0;
	int rc;

	if (req->offset == 0) {
		dm->stream_skip = 0;
		if (req->format == LWM_FMT_TLV && len) {
			if ((rc = tlv_header(p, len, req->path.id[2], &vlen, err)) < 0)
				return rc;
			dm->stream_skip = (size_t)rc;
		}
	}
	if (req->offset < dm->stream_skip) {
		/* only the first block can hold the header: a repeat of it */
		if (req->offset != 0)
			return errbuf_set(err, LWM_EBADREQ, "TLV: block inside the header");
		p += dm->stream_skip;
		len -= dm->stream_skip;
	}
	rc = obj->ops->write_block(obj, inst, req->path.id[2],
				   req->offset ? req->offset - dm->stream_skip : 0, p, len,
				   !req->more);
	if (rc)
		return errbuf_set(err, rc, "%s: value refused", dm_find_res(obj, req->path.id[2])->name);
	if (!req->more) {
		if (obj->ops->changed)
			obj->ops->changed(obj, inst);
		dm_changed(dm, &req->path);
	}
	return COAP_RESPONSE_CODE(204);
}

int dm_handle(struct dm *dm, const struct dm_req *req, struct dm_resp *resp, struct errbuf *err)
{
	const struct dm_res_def *def = NULL;
	struct dm_inst *inst = NULL;
	struct dm_obj *obj = NULL;
	const struct dm_path *p = &req->path;

	err->msg[0] = 0;
	resp->format = LWM_FMT_NONE;
	resp->location[0] = 0;
	if (check_version_formats(req, err))
		return check_version_formats(req, err);

	if (p->len >= 1) {
		if (!(obj = dm_find_obj(dm, p->id[0])))
			return errbuf_set(err, LWM_ENOTFOUND, "no such object");
		if (obj->oid == 0)
			return errbuf_set(err, LWM_EUNAUTH, "the Security object is not for servers");
	}
	if (p->len >= 2 && !(inst = dm_find_inst(obj, p->id[1])))
		return errbuf_set(err, LWM_ENOTFOUND, "no such instance");
	if (p->len >= 3 && !(def = dm_find_res(obj, p->id[2])))
		return errbuf_set(err, LWM_ENOTFOUND, "no such resource");
	if (dm_streams(dm, req))
		return do_write_block(dm, req, err);

	switch (req->method) {
	case DM_M_GET:
		return do_read(dm, req, resp, err);
	case DM_M_FETCH:
		return do_read_composite(dm, req, resp, err);
	case DM_M_IPATCH:
		return do_write_composite(dm, req, err);
	case DM_M_PUT:
		if (!req->len && req->query && *req->query) {
			int rc;

			/* Write-Attributes: a PUT with a query and nothing else */
			if (!dm->attrs)
				return errbuf_set(err, LWM_ENOTALLOWED, "attributes not supported");
			rc = attr_write(dm->attrs, dm, p, req->query, req->v12, err);
			if (!rc)
				dm_changed(dm, p);      /* observers re-evaluate with them */
			return rc ? rc : COAP_RESPONSE_CODE(204);
		}
		if (p->len < 2)
			return errbuf_set(err, LWM_ENOTALLOWED, "write needs an instance path");
		if (def && !(def->ops & DM_OP_W))
			return errbuf_set(err, LWM_ENOTALLOWED, "%s is not writable", def->name);
		if (p->len == 4 && !def->multiple)
			return errbuf_set(err, LWM_ENOTFOUND, "%s has no instances", def->name);
		/* a resource instance write replaces that instance only */
		return do_write(obj, inst, req, p->len != 4, err);
	case DM_M_POST:
		if (p->len == 1)
			return do_create(dm, obj, req, resp, err);
		if (p->len == 2)
			return do_write(obj, inst, req, false, err);
		if (p->len == 3 && (def->ops & DM_OP_E))
			return do_execute(obj, inst, def, req, err);
		if (p->len == 3 && (def->ops & DM_OP_W) && def->multiple)
			return do_write(obj, inst, req, false, err);
		return errbuf_set(err, LWM_ENOTALLOWED, "%s is not executable",
				  def ? def->name : "this path");
	case DM_M_DELETE:
		if (!inst)
			return errbuf_set(err, LWM_ENOTALLOWED, "only instances can be deleted");
		return do_delete(dm, obj, inst, req, err);
	default:
		return errbuf_set(err, LWM_ENOTALLOWED, "method not supported");
	}
}
