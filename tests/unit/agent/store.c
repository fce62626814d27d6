/* Unit tests for agent/store.c: atomic state files in a temporary folder. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "store.h"

#include "tmpdir_helpers.h"


static void path_of(char *p, size_t size, const struct tmp *t, const char *name)
{
	snprintf(p, size, "%s/%s", t->dir, name);
}

static void test_roundtrip(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char p[PATH_MAX];
	struct buf b;

	buf_init(&b);
	assert_int_equal(store_write(t->dir, "a.json", "{\"x\":1}", 7, &err), 0);
	assert_int_equal(store_read(t->dir, "a.json", &b, &err), 0);
	assert_int_equal(b.len, 7);
	assert_string_equal(buf_str(&b), "{\"x\":1}");

	/* replace with something shorter: no trace of the old content */
	assert_int_equal(store_write(t->dir, "a.json", "{}", 2, &err), 0);
	assert_int_equal(store_read(t->dir, "a.json", &b, &err), 0);
	assert_string_equal(buf_str(&b), "{}");

	/* the temporary file is gone after the rename */
	path_of(p, sizeof(p), t, "a.json.tmp");
	assert_int_equal(access(p, F_OK), -1);

	/* empty content is fine too */
	assert_int_equal(store_write(t->dir, "empty", "", 0, &err), 0);
	assert_int_equal(store_read(t->dir, "empty", &b, &err), 0);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_fini(&b);
}

static void test_read_absent(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char p[PATH_MAX];
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "old");
	assert_int_equal(store_read(t->dir, "nope.json", &b, &err), -ENOENT);
	assert_int_equal(b.len, 0);
	path_of(p, sizeof(p), t, "nope.json");
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));
	buf_fini(&b);
}

static void test_bad_names(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	struct buf b;

	buf_init(&b);
	assert_int_equal(store_write(t->dir, "../x", "1", 1, &err), -EINVAL);
	assert_int_equal(store_write(t->dir, "", "1", 1, &err), -EINVAL);
	assert_int_equal(store_write(t->dir, "..", "1", 1, &err), -EINVAL);
	assert_int_equal(store_read(t->dir, "a/b", &b, &err), -EINVAL);
	assert_int_equal(store_remove(t->dir, "a/b"), -EINVAL);
	assert_int_equal(store_write("", "x", "1", 1, &err), -EINVAL);
	buf_fini(&b);
}

static void test_write_missing_dir(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char d[PATH_MAX];

	path_of(d, sizeof(d), t, "no/such");
	assert_int_equal(store_write(d, "x", "1", 1, &err), -ENOENT);
	assert_non_null(strstr(err.msg, d));
	assert_non_null(strstr(err.msg, "x.tmp"));
}

static void test_write_fails_keeps_old(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	struct buf b;
	int rc;

	char tmpname[PATH_MAX];

	buf_init(&b);
	assert_int_equal(store_write(t->dir, "keep", "old", 3, &err), 0);
	/* a folder where the temporary file must go makes the write fail for
	 * every user, root included (a read-only folder does not stop root) */
	path_of(tmpname, sizeof(tmpname), t, "keep.tmp");
	assert_int_equal(mkdir(tmpname, 0700), 0);
	rc = store_write(t->dir, "keep", "new", 3, &err);
	assert_int_equal(rmdir(tmpname), 0);
	assert_true(rc < 0);
	assert_non_null(strstr(err.msg, "keep.tmp"));
	assert_int_equal(store_read(t->dir, "keep", &b, &err), 0);
	assert_string_equal(buf_str(&b), "old");
	buf_fini(&b);
}

static void test_read_too_big(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	size_t len = 1024 * 1024 + 1;
	char *big = calloc(1, len);
	struct buf b;

	assert_non_null(big);
	buf_init(&b);
	assert_int_equal(store_write(t->dir, "big", big, len, &err), 0);
	assert_int_equal(store_read(t->dir, "big", &b, &err), -EFBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(store_write(t->dir, "big", big, len - 1, &err), 0);
	assert_int_equal(store_read(t->dir, "big", &b, &err), 0);
	assert_int_equal(b.len, len - 1);
	buf_fini(&b);
	free(big);
}

static void test_read_dir(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char d[PATH_MAX];
	struct buf b;

	buf_init(&b);
	path_of(d, sizeof(d), t, "sub");
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(store_read(t->dir, "sub", &b, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
	buf_fini(&b);
}

static void test_remove(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char p[PATH_MAX];

	assert_int_equal(store_write(t->dir, "gone", "1", 1, &err), 0);
	assert_int_equal(store_remove(t->dir, "gone"), 0);
	path_of(p, sizeof(p), t, "gone");
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(store_remove(t->dir, "gone"), 0);     /* absent: not an error */
}

static void test_mkdir(void **state)
{
	struct tmp *t = *state;
	struct errbuf err = { "" };
	char d[PATH_MAX], f[PATH_MAX];
	struct stat st;

	path_of(d, sizeof(d), t, "a/b/c");
	assert_int_equal(store_mkdir(d, &err), 0);
	assert_int_equal(stat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0027, 0);        /* at most 0750 */
	assert_int_equal(store_mkdir(d, &err), 0);     /* exists: fine */

	/* trailing slash */
	path_of(d, sizeof(d), t, "d/");
	assert_int_equal(store_mkdir(d, &err), 0);

	/* a file in the way */
	assert_int_equal(store_write(t->dir, "file", "1", 1, &err), 0);
	path_of(f, sizeof(f), t, "file");
	assert_int_equal(store_mkdir(f, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, f));
	path_of(d, sizeof(d), t, "file/sub");
	assert_int_equal(store_mkdir(d, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "file/sub"));

	assert_int_equal(store_mkdir("", &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_absent, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_write_missing_dir, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_write_fails_keeps_old, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_too_big, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_dir, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_remove, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_mkdir, tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
