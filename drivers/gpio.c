/* gpio.c - GPIO lines through libgpiod 1.6 (the kernel's v1 character
 * device uAPI).
 *
 * chip = the chip's label ("pinctrl-bcm2711"), name ("gpiochip0"), number or
 * /dev path; it may be left out when line is a name, which is then looked up
 * on every chip.  line = the line's name ("GPIO17") or its offset on the chip
 * ("17").  active_low = true inverts the line in the kernel (readings, edges
 * and writes are logical levels).  bias = as-is (default), disable, pull-up
 * or pull-down.
 *
 * Inputs are requested for both edges: the owner watches event_fd() in its
 * loop and takes edges with event(); debouncing and counting are the
 * owner's.  Outputs are requested driving ch->initial, so that reopening a
 * line after its chip came back does not glitch it.  close() releases the
 * line, so the kernel keeps no request of ours after exit. */
#include "drv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "err.h"

#define CONSUMER "lwm2md"

struct gpio {
	struct gpiod_chip *chip;
	struct gpiod_line *line;
	int fd;                 /* event fd of an input, -1 otherwise */
	bool requested;
};

static const char *const keys[] = { "chip", "line", "active_low", "bias", NULL };

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* The request flags from active_low and bias; 0 or -EINVAL naming the key. */
static int flags_of(const struct cfg_sensor *sec, int *flags, const char **key,
		    struct errbuf *err)
{
	const char *al = drv_key(sec, "active_low"), *bias = drv_key(sec, "bias");
	bool low = false;

	*flags = 0;
	if (al && parse_bool(al, &low)) {
		*key = "active_low";
		return errbuf_set(err, -EINVAL, "expected true or false");
	}
	if (low)
		*flags |= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
	if (!bias || !strcmp(bias, "as-is"))
		return 0;
	if (!strcmp(bias, "disable"))
		*flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
	else if (!strcmp(bias, "pull-up"))
		*flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
	else if (!strcmp(bias, "pull-down"))
		*flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
	else {
		*key = "bias";
		return errbuf_set(err, -EINVAL, "expected as-is, disable, pull-up or pull-down");
	}
	return 0;
}

static int gpio_check(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
		      struct errbuf *err)
{
	const char *chip = drv_key(sec, "chip"), *line = drv_key(sec, "line");
	int flags;

	if (!line || !*line) {
		*key = line ? "line" : NULL;
		return errbuf_set(err, -EINVAL, "line is missing: the line's name or its offset");
	}
	if (chip && !*chip) {
		*key = "chip";
		return errbuf_set(err, -EINVAL, "expected the chip's label, name, number or path");
	}
	if (!chip && all_digits(line)) {
		*key = "line";
		return errbuf_set(err, -EINVAL, "a line offset needs chip = (its label or name)");
	}
	if (flags_of(sec, &flags, key, err))
		return -EINVAL;
	info->qty = DRV_Q_DIGITAL;
	info->axes = 1;
	snprintf(info->exclusive, sizeof(info->exclusive), "GPIO line %s%s%s", line,
		 chip ? " of chip " : "", chip ? chip : "");
	return 0;
}

static struct gpiod_chip *open_chip(const char *c)
{
	struct gpiod_chip *chip;

	if (c[0] == '/')
		return gpiod_chip_open(c);
	if (all_digits(c))
		return gpiod_chip_open_by_number((unsigned)atoi(c));
	if (!strncmp(c, "gpiochip", 8) && (chip = gpiod_chip_open_by_name(c)))
		return chip;
	return gpiod_chip_open_by_label(c);
}

/* Finds (does not request) the line into g.  0 or -errno. */
static int find_line(const struct cfg_sensor *sec, struct gpio *g, struct errbuf *err)
{
	const char *c = drv_key(sec, "chip"), *l = drv_key(sec, "line");

	if (!c) {
		errno = 0;
		g->line = gpiod_line_find(l);
		if (!g->line)
			return errbuf_set(err, errno && errno != ENOENT ? -errno : -ENODEV,
					  "no GPIO line named %s on any chip", l);
		g->chip = gpiod_line_get_chip(g->line);
		return 0;
	}
	errno = 0;
	g->chip = open_chip(c);
	if (!g->chip)
		return errbuf_set(err, -ENODEV, "GPIO chip %s: %s", c,
				  errno && errno != ENOENT ? strerror(errno) : "not found");
	g->line = all_digits(l) ? gpiod_chip_get_line(g->chip, (unsigned)atoi(l)) :
				  gpiod_chip_find_line(g->chip, l);
	if (!g->line) {
		errbuf_set(err, -ENODEV, "GPIO chip %s (%s): no line %s", c,
			   gpiod_chip_name(g->chip), l);
		gpiod_chip_close(g->chip);
		g->chip = NULL;
		return -ENODEV;
	}
	return 0;
}

static void gpio_close(struct drv_channel *ch)
{
	struct gpio *g = ch->priv;

	if (g->line && g->requested)
		gpiod_line_release(g->line);
	if (g->chip)
		gpiod_chip_close(g->chip);
	g->chip = NULL;
	g->line = NULL;
	g->requested = false;
	g->fd = -1;
}

static int gpio_probe(const struct cfg_sensor *sec, struct errbuf *err)
{
	struct gpio g = { .fd = -1 };
	int rc = find_line(sec, &g, err);

	if (rc)
		return rc;
	if (gpiod_line_is_used(g.line)) {
		const char *who = gpiod_line_consumer(g.line);

		rc = errbuf_set(err, -EBUSY, "GPIO %s line %u is in use by %s",
				gpiod_chip_name(g.chip), gpiod_line_offset(g.line),
				who ? who : "another program");
	}
	gpiod_chip_close(g.chip);
	return rc;
}

static int gpio_open(struct drv_channel *ch, struct errbuf *err)
{
	struct gpio *g = ch->priv;
	const char *key = NULL;
	int flags, rc, fl;

	g->fd = -1;
	if (flags_of(ch->sec, &flags, &key, err))
		return -EINVAL;
	if ((rc = find_line(ch->sec, g, err)))
		return rc;
	drv_set_desc(ch, "GPIO %s (%s) line %u%s%s%s",
		 gpiod_chip_name(g->chip), gpiod_chip_label(g->chip), gpiod_line_offset(g->line),
		 gpiod_line_name(g->line) ? " \"" : "",
		 gpiod_line_name(g->line) ? gpiod_line_name(g->line) : "",
		 gpiod_line_name(g->line) ? "\"" : "");
	if (ch->sec->output)
		rc = gpiod_line_request_output_flags(g->line, CONSUMER, flags, ch->initial != 0);
	else
		rc = gpiod_line_request_both_edges_events_flags(g->line, CONSUMER, flags);
	if (rc) {
		const char *who;

		rc = errno ? -errno : -EIO;
		who = gpiod_line_consumer(g->line);
		if (rc == -EBUSY)
			errbuf_set(err, rc, "%s: in use by %s", ch->desc,
				   who ? who : "another program");
		else
			errbuf_set(err, rc, "%s: request: %s", ch->desc, strerror(-rc));
		gpio_close(ch);
		return rc;
	}
	g->requested = true;
	if (!ch->sec->output) {
		g->fd = gpiod_line_event_get_fd(g->line);
		fl = g->fd >= 0 ? fcntl(g->fd, F_GETFL) : -1;
		if (fl < 0 || fcntl(g->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			rc = errbuf_set(err, -errno, "%s: event fd: %s", ch->desc, strerror(errno));
			gpio_close(ch);
			return rc;
		}
	}
	return 0;
}

static int gpio_read(struct drv_channel *ch, double *v, struct errbuf *err)
{
	struct gpio *g = ch->priv;
	int x = gpiod_line_get_value(g->line);

	if (x < 0)
		return errbuf_set(err, -errno, "%s: %s", ch->desc, strerror(errno));
	*v = x;
	return 0;
}

static int gpio_write(struct drv_channel *ch, double v, struct errbuf *err)
{
	struct gpio *g = ch->priv;

	if (!ch->sec->output)
		return errbuf_set(err, -EPERM, "%s is an input", ch->desc);
	if (gpiod_line_set_value(g->line, v != 0))
		return errbuf_set(err, -errno, "%s: %s", ch->desc, strerror(errno));
	return 0;
}

static int gpio_event_fd(struct drv_channel *ch)
{
	return ((struct gpio *)ch->priv)->fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The kernel stamps v1 line events with CLOCK_MONOTONIC since Linux 5.7 (with
 * CLOCK_REALTIME before); a stamp that is not a recent monotonic time is
 * replaced by the time the event was read. */
static uint64_t event_time(const struct timespec *ts, uint64_t now)
{
	uint64_t t = (uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000;

	return t <= now && now - t < 10000 ? t : now;
}

static int gpio_event(struct drv_channel *ch, struct drv_edge *e, struct errbuf *err)
{
	struct gpio *g = ch->priv;
	struct gpiod_line_event ev;

	if (g->fd < 0)
		return 0;
	if (gpiod_line_event_read_fd(g->fd, &ev)) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return errbuf_set(err, -errno, "%s: event: %s", ch->desc, strerror(errno));
	}
	e->level = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;
	e->t = event_time(&ev.ts, now_ms());
	return 1;
}

const struct drv_ops drv_gpio = {
	.name = "gpio",
	.keys = keys,
	.priv_size = sizeof(struct gpio),
	.check = gpio_check,
	.probe = gpio_probe,
	.open = gpio_open,
	.read = gpio_read,
	.write = gpio_write,
	.event_fd = gpio_event_fd,
	.event = gpio_event,
	.close = gpio_close,
};
