/* dynlib.c - libraries loaded when first needed (see dynlib.h). */
#include "dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

int dynlib_load(const char *soname, const char *package, const struct dynlib_sym *syms,
		size_t n, struct errbuf *err)
{
	void *h, *fn;
	size_t i;

	if (n && *(void **)syms[0].slot)
		return 0;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return errbuf_set(err, -ENOSYS, "cannot load %s (Debian package %s): %s", soname,
				  package, dlerror());
	for (i = 0; i < n; i++) {
		fn = dlsym(h, syms[i].name);
		if (!fn) {
			errbuf_set(err, -ENOSYS, "%s has no %s (Debian package %s too old?)", soname,
				   syms[i].name, package);
			while (i--)
				*(void **)syms[i].slot = NULL;
			dlclose(h);
			return -ENOSYS;
		}
		*(void **)syms[i].slot = fn;
	}
	return 0;
}
