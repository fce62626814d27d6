/* objects.h - constructors of the LwM2M objects in objects/.
 *
 * Each x_obj_new() returns an object ready for dm_register(), with its
 * instances built from the system, the config and the state folder, or NULL
 * after logging why (out of memory).  The agent keeps ag (and ag->cfg) alive
 * until x_obj_free(), which takes an unregistered object or NULL. */
#ifndef LWM_OBJECTS_H
#define LWM_OBJECTS_H

#include <stdint.h>

struct agent;
struct dm_obj;

/* Security (0), filled from [server]; never visible to the server. */
struct dm_obj *security_obj_new(struct agent *ag);
void security_obj_free(struct dm_obj *obj);

/* Server (1), a view over the live [server] settings. */
struct dm_obj *server_obj_new(struct agent *ag);
void server_obj_free(struct dm_obj *obj);

/* Device (3), single instance 0. */
struct dm_obj *device_obj_new(struct agent *ag);
void device_obj_free(struct dm_obj *obj);
/* Adds code (1..32, as in the Error Code resource 3/0/11) to the device's
 * error list unless it is there already; clears it again.  Not persisted. */
void device_set_error(struct dm_obj *obj, int code);
void device_clear_error(struct dm_obj *obj, int code);

/* Firmware Update (5), single instance 0: push, pull, install, result. */
struct dm_obj *firmware_obj_new(struct agent *ag);
void firmware_obj_free(struct dm_obj *obj);

/* Connectivity Monitoring (4), single instance 0, from rtnetlink. */
struct dm_obj *connmon_obj_new(struct agent *ag);
void connmon_obj_free(struct dm_obj *obj);
/* The interface that reaches the server and the IP bytes it carried since
 * it appeared (the kernel's counters less link-layer headers). */
struct connmon_link {
	int ifindex;                    /* 0: no interface reaches the server */
	uint64_t tx_bytes, rx_bytes;
};
/* Fills out with the connectivity interface's counters read now; 0. */
int connmon_link(struct dm_obj *connmon, struct connmon_link *out);
/* fn is called when another interface (or none) starts reaching the server,
 * with the old one's counters as late as the kernel still had them and the
 * new one's.  One hook; fn NULL removes it. */
void connmon_set_link_hook(struct dm_obj *connmon,
			   void (*fn)(void *arg, const struct connmon_link *old,
				      const struct connmon_link *now), void *arg);

/* Connectivity Statistics (7), single instance 0: counters of the interface
 * connmon finds and of lwm2md's own messages, kept in the state folder.
 * Needs Connectivity Monitoring (4) registered in ag->dm first. */
struct dm_obj *connstat_obj_new(struct agent *ag);
void connstat_obj_free(struct dm_obj *obj);

/* Portfolio (16), instances created by the server, kept in the state folder. */
struct dm_obj *portfolio_obj_new(struct agent *ag);
void portfolio_obj_free(struct dm_obj *obj);

#endif
