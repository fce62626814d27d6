/* dm.h - the LwM2M data model: paths, values, objects, instances, resources.
 *
 * An object is a static resource table (generated from the OMA XML) plus an
 * operations table.  The core (dm.c) does permission checks, type coercion,
 * unknown-ID rejection and Discover from the table alone; objects only see
 * typed values and return LWM_E* codes.  Objects never see a CoAP PDU. */
#ifndef LWM_DM_H
#define LWM_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DM_NONE 0xFFFFu         /* an absent path component / instance id */
#define DM_MAX_ID 0xFFFEu

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Resource data types, as in the OMA XML <Type>. */
enum dm_type {
	DM_T_NONE = 0,          /* executable resource: no value */
	DM_T_STRING,
	DM_T_INT,
	DM_T_UINT,
	DM_T_FLOAT,
	DM_T_BOOL,
	DM_T_OPAQUE,
	DM_T_TIME,              /* seconds since the epoch, signed */
	DM_T_OBJLNK,
	DM_T_CORELNK,
};

/* How a decoded value has to be read before it has a type:
 * text/plain and TLV carry no type, so their bytes are kept as they came and
 * dm_value_coerce() interprets them against the resource table. */
enum dm_raw {
	DM_RAW_NONE = 0,        /* typed value */
	DM_RAW_TEXT,            /* bytes are text/plain characters */
	DM_RAW_TLV,             /* bytes are a TLV value field */
};

/* A path /oid/iid/rid/riid; len says how many of id[] are set (0..4). */
struct dm_path {
	uint16_t id[4];
	uint8_t len;
};

struct dm_value {
	enum dm_type type;
	enum dm_raw raw;
	union {
		int64_t i;              /* DM_T_INT, DM_T_TIME */
		uint64_t u;             /* DM_T_UINT */
		double f;               /* DM_T_FLOAT */
		bool b;                 /* DM_T_BOOL */
		struct {
			const uint8_t *p;
			size_t len;
		} bytes;                /* STRING, OPAQUE, CORELNK and raw values */
		struct {
			uint16_t oid, iid;
		} lnk;                  /* DM_T_OBJLNK */
	};
};

/* One resource (or resource instance) value with its full path. */
struct dm_rec {
	struct dm_path path;
	struct dm_value v;
	int64_t time;           /* SenML time, 0 when absent */
};

/* A list of records.  Byte values are copied into storage the list owns, so a
 * list outlives the object call or the payload it was filled from. */
struct dm_recs {
	struct dm_rec *r;
	size_t n, cap;
	struct dm_chunk *chunks;
};

void dm_recs_init(struct dm_recs *l);
void dm_recs_fini(struct dm_recs *l);
/* Appends a copy of v (and of its bytes) at path; 0 or LWM_EINTERNAL. */
int dm_recs_add(struct dm_recs *l, const struct dm_path *path, const struct dm_value *v);
/* (It also stores a NUL after every byte value it copies, so a string held by
 * a list can be used as a C string when it contains no NUL itself.) */

/* Path helpers. */
struct dm_path dm_path_make(int len, ...);      /* dm_path_make(2, 3, 0) is /3/0 */
/* Parses "/3/0/1" (leading slash optional, "" or "/" is the root) into p.
 * Returns 0 or LWM_EBADREQ with a reason in err. */
int dm_path_parse(const char *s, struct dm_path *p, struct errbuf *err);
/* Writes "/3/0/1" into s (at least 24 bytes); returns s. */
char *dm_path_str(const struct dm_path *p, char *s, size_t size);
/* True if p equals base or lies below it. */
bool dm_path_under(const struct dm_path *p, const struct dm_path *base);

/* Value constructors, for objects. */
static inline struct dm_value dm_int(int64_t i) { return (struct dm_value){ .type = DM_T_INT, .i = i }; }
static inline struct dm_value dm_uint(uint64_t u) { return (struct dm_value){ .type = DM_T_UINT, .u = u }; }
static inline struct dm_value dm_float(double f) { return (struct dm_value){ .type = DM_T_FLOAT, .f = f }; }
static inline struct dm_value dm_bool(bool b) { return (struct dm_value){ .type = DM_T_BOOL, .b = b }; }
static inline struct dm_value dm_time(int64_t t) { return (struct dm_value){ .type = DM_T_TIME, .i = t }; }
struct dm_value dm_str(const char *s);          /* NULL is "" */
struct dm_value dm_opaque(const void *p, size_t len);
struct dm_value dm_objlnk(uint16_t oid, uint16_t iid);

/* Converts in (typed or raw) to type want; byte values point into in's bytes.
 * Returns 0, or LWM_EBADREQ with what is wrong in err. */
int dm_value_coerce(const struct dm_value *in, enum dm_type want, struct dm_value *out,
		    struct errbuf *err);
const char *dm_type_name(enum dm_type t);

struct buf;
/* Like dm_value_coerce(), for the one conversion that makes new bytes (base64
 * text/plain into Opaque): they are written into store (reset first) and out
 * points into it until store is next changed.  With store NULL that case
 * fails with LWM_EINTERNAL; every other case behaves as dm_value_coerce(). */
int dm_value_coerce_buf(const struct dm_value *in, enum dm_type want, struct dm_value *out,
			struct buf *store, struct errbuf *err);
/* Bytes dm_path_str() needs for any path, "/65535/65535/65535/65535" and NUL. */
#define DM_PATH_STR_MAX 25

/* ---- objects ---------------------------------------------------------- */

enum {
	DM_OP_R = 1,
	DM_OP_W = 2,
	DM_OP_E = 4,
};

/* One row of an object's resource table, copied from the OMA XML. */
struct dm_res_def {
	uint16_t id;
	uint8_t ops;            /* DM_OP_* */
	bool multiple;
	bool mandatory;
	enum dm_type type;
	const char *name;
};

/* Embedded by an object in its own instance struct (container_of). */
struct dm_inst {
	struct dm_inst *next;   /* kept sorted by id */
	uint16_t id;
};

struct dm_obj;
struct dm_out;
struct agent;

/* Object callbacks.  A NULL operation is "not supported": the core answers
 * 4.05.  inst is never NULL for per-instance calls. */
struct dm_ops {
	/* Emits the value(s) of resource rid through dm_out_value() (single) or
	 * dm_out_inst() (multiple).  Return 0, LWM_ENOTFOUND if the resource is
	 * absent on this instance, or another LWM_E* code. */
	int (*read)(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out);
	/* Stores v (already coerced to the table type) into rid; riid is DM_NONE
	 * for a single resource. */
	int (*write)(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
		     const struct dm_value *v);
	/* Removes every instance of multiple resource rid (before a replace), or
	 * resets an optional single resource to absent. */
	int (*clear)(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid);
	/* Runs executable rid with the raw argument string (may be empty). */
	int (*execute)(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
		       const char *args, size_t len);
	/* Allocates and returns a new instance with id iid (the core picks a free
	 * one and links it in); the core then writes the payload into it. */
	int (*create)(struct dm_obj *obj, uint16_t iid, struct dm_inst **out);
	/* Unlinked by the core already; frees the instance. */
	int (*remove)(struct dm_obj *obj, struct dm_inst *inst);
	/* Called after a server write/create/delete changed obj; persist here. */
	void (*changed)(struct dm_obj *obj, struct dm_inst *inst);
	/* Optional, for a single opaque resource too large to hold in memory (the
	 * Firmware Update Package): receives a Write of rid piece by piece as the
	 * Block1 blocks arrive.  p holds len bytes of the value at byte off; last
	 * is set on the final piece (an empty value is one piece, off 0, len 0,
	 * last).  off 0 again means the server restarted the transfer.  Without
	 * this op the core reassembles the value and calls write. */
	int (*write_block)(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, size_t off,
			   const uint8_t *p, size_t len, bool last);
};

struct dm_obj {
	uint16_t oid;
	const char *version;            /* object version, e.g. "1.1"; NULL = 1.0 */
	bool multi_inst;                /* Multiple object instances allowed */
	const struct dm_res_def *res;   /* sorted by id */
	size_t nres;
	const struct dm_ops *ops;
	struct dm_inst *insts;          /* sorted by id */
	struct dm_obj *next;            /* dm's list, sorted by oid */
	struct dm *dm;                  /* set by dm_register() */
};

/* Emit helpers used inside dm_ops.read. */
int dm_out_value(struct dm_out *out, const struct dm_value *v);
int dm_out_inst(struct dm_out *out, uint16_t riid, const struct dm_value *v);

/* ---- the registry ----------------------------------------------------- */

struct dm;

/* What a change means for the registration: the link list changed. */
typedef void (*dm_links_changed_fn)(void *arg);

struct dm *dm_new(void);
void dm_free(struct dm *dm);
void dm_set_links_hook(struct dm *dm, dm_links_changed_fn fn, void *arg);
/* Adds obj (caller-owned, lives until dm_free) to the registry. */
int dm_register(struct dm *dm, struct dm_obj *obj);
struct dm_obj *dm_find_obj(struct dm *dm, uint16_t oid);
struct dm_inst *dm_find_inst(struct dm_obj *obj, uint16_t iid);
const struct dm_res_def *dm_find_res(const struct dm_obj *obj, uint16_t rid);
/* Links inst into obj in id order (for objects building their instances at
 * start); 0 or LWM_EBADREQ if the id is taken.  Does not call the hook. */
int dm_inst_add(struct dm_obj *obj, struct dm_inst *inst);
/* Unlinks inst from obj (does not free). */
void dm_inst_unlink(struct dm_obj *obj, struct dm_inst *inst);
/* Tells the registration that instances appeared or vanished. */
void dm_links_changed(struct dm *dm);
/* Tells observers that values at or under path changed (objects call this
 * when a sample or an event changed a value; the dm calls it after writes). */
typedef void (*dm_changed_fn)(void *arg, const struct dm_path *path);
void dm_set_changed_hook(struct dm *dm, dm_changed_fn fn, void *arg);
void dm_changed(struct dm *dm, const struct dm_path *path);

/* Iteration over objects for the registration link list. */
struct dm_obj *dm_first(struct dm *dm);

/* Reads everything under path into recs (the server-visible view: Security
 * is refused with LWM_EUNAUTH unless internal is set). */
int dm_read(struct dm *dm, const struct dm_path *path, bool internal, struct dm_recs *recs);

#endif
