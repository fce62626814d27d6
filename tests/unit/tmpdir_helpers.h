/* A fresh temporary folder per test (cmocka setup/teardown), removed with
 * everything in it afterwards.  state points at a struct tmp. */
#ifndef TESTS_UNIT_TMPDIR_HELPERS_H
#define TESTS_UNIT_TMPDIR_HELPERS_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tmp {
	char dir[64];
};

static inline int tmpdir_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/lwm2md-unit-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int tmpdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int tmpdir_teardown(void **state)
{
	struct tmp *t = *state;
	int rc;

	chmod(t->dir, 0700);    /* a test may have taken its write permission away */
	rc = nftw(t->dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return rc;
}

#endif
