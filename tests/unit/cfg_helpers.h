/* Shared by the config unit tests (tests/unit/agent/cfg*.c): every bad_*.ini
 * fixture of a folder must fail to load with the message its first line
 * gives ("; expect: ..."). */
#ifndef TESTS_UNIT_CFG_HELPERS_H
#define TESTS_UNIT_CFG_HELPERS_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg.h"

static inline void check_bad_fixture(const char *path)
{
	char line[512], *out = NULL, *expect;
	size_t len = 0;
	FILE *f = fopen(path, "r"), *err;

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	expect = strstr(line, "; expect: ");
	assert_non_null(expect);
	expect += strlen("; expect: ");
	err = open_memstream(&out, &len);
	assert_null(cfg_load(path, err));
	fclose(err);
	if (!strstr(out, expect))
		fail_msg("%s: expected \"%s\", got \"%s\"", path, expect, out);
	free(out);
}

/* Checks every bad_* file of dir; there must be at least min of them. */
static inline void check_bad_fixtures(const char *dir, int min)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[300];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "bad_", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		check_bad_fixture(path);
		n++;
	}
	closedir(d);
	assert_true(n >= min);
}

#endif
