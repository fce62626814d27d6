/* log.h - one log sink: stderr, with journald's <N> prefix under systemd. */
#ifndef LWM_LOG_H
#define LWM_LOG_H

#include <syslog.h>

void log_set_level(int level);          /* LOG_ERR .. LOG_DEBUG */
int log_level(void);
/* Parses "error", "warning", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
