/* modem.h - what ModemManager knows of the cellular modems, for
 * Connectivity Monitoring (4): a D-Bus client on the system bus (sd-bus),
 * watched by the loop. */
#ifndef LWM_MODEM_H
#define LWM_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct modem;

#define MODEM_IFNAMSIZ 16                /* IFNAMSIZ, without <net/if.h> */
#define MODEM_APN_LEN 101               /* 3GPP TS 23.003: at most 100 octets */

/* One modem as object 4 shows it; zeroed before it is filled, so that two
 * can be compared with memcmp. */
struct modem_info {
	int bearer;                     /* a 4/0/0 value; -1: no access technology */
	bool has_signal;
	int rssi;                       /* dBm, from SignalQuality */
	int quality;                    /* SignalQuality, 0..100 % */
	bool has_operator;
	int mcc, mnc;
	bool has_cell;
	uint32_t lac, cell_id;
	char apn[MODEM_APN_LEN];        /* "" when no bearer is connected */
};

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS or the default) and
 * follows ModemManager there; changed(arg) is called from the loop when what
 * a modem shows changed.  NULL when there is no system bus (logged once, at
 * info level); a bus without ModemManager is no error: no modems. */
struct modem *modem_open(struct loop *loop, void (*changed)(void *arg), void *arg);
void modem_close(struct modem *m);
/* The modem whose data interface is the network interface ifname (a
 * connected bearer's Interface, or a net port of the modem): 0, or -ENOENT. */
int modem_find(const struct modem *m, const char *ifname, struct modem_info *out);
/* The bearers of the modems registered on a network: how many, at most max. */
size_t modem_bearers(const struct modem *m, int *out, size_t max);
/* The 4/0/0 value of a ModemManager access technology mask (pure). */
int modem_bearer_of(uint32_t access_tech);

#endif
