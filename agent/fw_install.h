/* fw_install.h - hands a downloaded firmware image to the installer: swupdate
 * over its IPC sockets ([firmware] swupdate_dir), or else the configured
 * [firmware] install_command.  One install at a time. */
#ifndef LWM_FW_INSTALL_H
#define LWM_FW_INSTALL_H

#include <stdbool.h>

struct agent;
struct errbuf;
struct fw_inst;

/* What the installer said: ok, or failed with a reason for the log.  info
 * carries the version the installer read from the image ("" if none). */
typedef void (*fw_inst_done)(void *arg, bool ok, const char *why, const char *version);

/* Starts installing image (a path).  dry_run: only check it (swupdate parses
 * it, checks its signature and hashes, installs nothing); without swupdate a
 * check passes at once.  done is called from the loop, never before this
 * returns.  NULL with err set if nothing could be started (swupdate not
 * running, busy, no installer configured). */
struct fw_inst *fw_install_start(struct agent *ag, const char *image, bool dry_run,
				 fw_inst_done done, void *arg, struct errbuf *err);
/* Stops following an install (the installer itself may go on); no callback
 * follows.  NULL is a no-op. */
void fw_install_cancel(struct fw_inst *in);

#endif
