/* Helpers shared by the driver unit tests: a [sensor.NAME] section built in
 * memory, and fixture trees in a temporary folder. */
#ifndef TEST_DRIVERS_UTIL_H
#define TEST_DRIVERS_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

#define MAX_KV 16

struct section {
	struct cfg_sensor s;
	struct cfg_kv kv[MAX_KV];
	char text[MAX_KV][2][128];
};

/* A section from "key=value" strings, NULL-terminated (copied into sec). */
static inline void section_init(struct section *sec, const char *const *pairs)
{
	size_t n = 0;

	memset(sec, 0, sizeof(*sec));
	for (; pairs && *pairs && n < MAX_KV; pairs++, n++) {
		const char *eq = strchr(*pairs, '=');

		snprintf(sec->text[n][0], sizeof(sec->text[n][0]), "%.*s", (int)(eq - *pairs), *pairs);
		snprintf(sec->text[n][1], sizeof(sec->text[n][1]), "%s", eq + 1);
		sec->kv[n].key = sec->text[n][0];
		sec->kv[n].val = sec->text[n][1];
		sec->kv[n].line = (int)n + 2;
	}
	sec->s.name = "test";
	sec->s.kv = sec->kv;
	sec->s.nkv = n;
	sec->s.axes = 1;
	sec->s.scale = 1;
}

/* Writes text to root/rel, creating folders. */
static inline void put_file(const char *root, const char *rel, const char *text)
{
	char p[512], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (slash = strchr(p + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(p, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void rm_tree(const char *root)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
