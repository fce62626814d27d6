/* sim.c - synthetic readings, for the demo and for trying lwm2md without
 * hardware.
 *
 * waveform = constant | sine | ramp | random | square, around value:
 *   constant  value
 *   sine      value + amplitude * sin(2 pi t / wave_period)
 *   ramp      value + amplitude * (t / wave_period, wrapping): a sawtooth
 *   random    a random walk from value, steps of at most step (default
 *             amplitude / 10) per reading, kept within value +- amplitude
 *   square    value for the first half of each wave_period, value + amplitude
 *             for the second half (a digital input that toggles)
 * t runs from the moment the channel opened.  Three-axis objects get the
 * same wave on each axis, a third of a period apart.  On an output object
 * the channel stores what is written and reads it back. */
#include "drv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "err.h"

enum wave { W_CONSTANT, W_SINE, W_RAMP, W_RANDOM, W_SQUARE };

static const char *const wave_names[] = {
	[W_CONSTANT] = "constant", [W_SINE] = "sine", [W_RAMP] = "ramp",
	[W_RANDOM] = "random", [W_SQUARE] = "square",
};

struct sim {
	enum wave wave;
	double value, amplitude, wave_period, step;
	double walk[DRV_MAX_AXES];
	double out;                     /* outputs: the level last written */
	int axes;
	uint64_t t0;                    /* monotonic ms at open */
	unsigned seed;
};

static const char *const keys[] = {
	"waveform", "value", "amplitude", "wave_period", "step", NULL,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int number(const struct cfg_sensor *sec, const char *key, double def, double *out,
		  const char **bad, struct errbuf *err)
{
	const char *s = drv_key(sec, key);

	*out = def;
	if (!s)
		return 0;
	if (drv_parse_number(s, out)) {
		*bad = key;
		return errbuf_set(err, -EINVAL, "expected a number");
	}
	return 0;
}

/* Parses the keys into a (zeroed) struct sim. */
static int parse(const struct cfg_sensor *sec, struct sim *s, const char **bad,
		 struct errbuf *err)
{
	const char *w = drv_key(sec, "waveform");
	size_t i;

	s->wave = W_CONSTANT;
	if (w) {
		for (i = 0; i < sizeof(wave_names) / sizeof(wave_names[0]); i++)
			if (!strcmp(w, wave_names[i]))
				break;
		if (i == sizeof(wave_names) / sizeof(wave_names[0])) {
			*bad = "waveform";
			return errbuf_set(err, -EINVAL,
					  "expected constant, sine, ramp, random or square");
		}
		s->wave = (enum wave)i;
	}
	if (number(sec, "value", 0, &s->value, bad, err) ||
	    number(sec, "amplitude", 1, &s->amplitude, bad, err) ||
	    number(sec, "wave_period", 60, &s->wave_period, bad, err) ||
	    number(sec, "step", fabs(s->amplitude) / 10, &s->step, bad, err))
		return -EINVAL;
	if (s->wave_period < 0.1 || s->wave_period > 31536000) {
		*bad = "wave_period";
		return errbuf_set(err, -EINVAL, "out of range (0.1..31536000 s)");
	}
	if (s->step < 0) {
		*bad = "step";
		return errbuf_set(err, -EINVAL, "expected a number >= 0");
	}
	return 0;
}

static int sim_check(const struct cfg_sensor *sec, struct drv_info *info, const char **key,
		     struct errbuf *err)
{
	struct sim s = { 0 };

	info->qty = DRV_Q_ANY;
	info->axes = sec->axes;
	return parse(sec, &s, key, err);
}

static int sim_open(struct drv_channel *ch, struct errbuf *err)
{
	struct sim *s = ch->priv;
	const char *bad = NULL;
	int i;

	if (parse(ch->sec, s, &bad, err))
		return -EINVAL;
	s->axes = ch->sec->axes > 0 ? ch->sec->axes : 1;
	s->t0 = now_ms();
	s->seed = (unsigned)s->t0 ^ (unsigned)(uintptr_t)ch;
	for (i = 0; i < DRV_MAX_AXES; i++)
		s->walk[i] = s->value;
	s->out = ch->initial;
	drv_set_desc(ch, "sim %s", wave_names[s->wave]);
	return 0;
}

/* The wave at t seconds. */
static double wave_at(struct sim *s, double t, double *walk)
{
	double ph = fmod(t / s->wave_period, 1.0), r;

	switch (s->wave) {
	case W_CONSTANT:
		return s->value;
	case W_SINE:
		return s->value + s->amplitude * sin(2 * M_PI * ph);
	case W_RAMP:
		return s->value + s->amplitude * ph;
	case W_SQUARE:
		return ph < 0.5 ? s->value : s->value + s->amplitude;
	case W_RANDOM:
		break;
	}
	r = (double)rand_r(&s->seed) / RAND_MAX;
	*walk += (2 * r - 1) * s->step;
	if (*walk > s->value + fabs(s->amplitude))
		*walk = s->value + fabs(s->amplitude);
	if (*walk < s->value - fabs(s->amplitude))
		*walk = s->value - fabs(s->amplitude);
	return *walk;
}

static int sim_read(struct drv_channel *ch, double *v, struct errbuf *err)
{
	struct sim *s = ch->priv;
	double t = (double)(now_ms() - s->t0) / 1000;
	int i;

	if (ch->sec->output) {
		v[0] = s->out;
		return 0;
	}
	for (i = 0; i < s->axes; i++)
		v[i] = wave_at(s, t + i * s->wave_period / 3, &s->walk[i]);
	return 0;
}

static int sim_write(struct drv_channel *ch, double v, struct errbuf *err)
{
	((struct sim *)ch->priv)->out = v;
	return 0;
}

const struct drv_ops drv_sim = {
	.name = "sim",
	.keys = keys,
	.priv_size = sizeof(struct sim),
	.check = sim_check,
	.open = sim_open,
	.read = sim_read,
	.write = sim_write,
};
