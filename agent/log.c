/* log.c - the daemon's one log sink.
 *
 * Lines go to stderr.  Under systemd (JOURNAL_STREAM set) each line carries
 * journald's "<N>" priority prefix and no timestamp; in a terminal or a test
 * it is "lwm2md: level: text". */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cur_level = LOG_INFO;
static int journal = -1;

static const char *const names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(int level)
{
	cur_level = level;
}

int log_level(void)
{
	return cur_level;
}

int log_level_parse(const char *s)
{
	int i;

	if (!strcmp(s, "warn"))
		return LOG_WARNING;
	if (!strcmp(s, "err"))
		return LOG_ERR;
	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (i != LOG_NOTICE && !strcmp(s, names[i]))
			return i;
	return -1;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > cur_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "lwm2md: %s: ", names[level & 7]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* one write per line, so lines from a hook's output never interleave mid-line */
	strcat(line, "\n");
	fputs(line, stderr);
}
