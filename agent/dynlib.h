/* dynlib.h - libraries loaded when first needed.
 *
 * libiio and libcurl bring half the daemon's resident memory with them
 * (libxml2, ICU, avahi, dbus; OpenSSL, Kerberos, LDAP) although most gateways
 * use one or neither.  The files that use them call through a table of
 * function pointers that dynlib_load() fills with dlopen/dlsym, so the
 * libraries are mapped only when an IIO sensor or an HTTP download starts.
 *
 * In such a file (before any use, after the library's header):
 *
 *	#define FOO_FUNCS(X) X(foo_open) X(foo_close)
 *	static struct { FOO_FUNCS(DYNLIB_MEMBER) } foo_lib;
 *	#define foo_open  foo_lib.p_foo_open       (one line per function)
 *	...
 *	#define FOO_SYM(f) DYNLIB_ENTRY(foo_lib, f)
 *	static const struct dynlib_sym foo_syms[] = { FOO_FUNCS(FOO_SYM) };
 *
 * The members keep the prototypes of the header (__typeof__), so every call
 * is still type-checked by the compiler. */
#ifndef LWM_DYNLIB_H
#define LWM_DYNLIB_H

#include <stddef.h>

#include "err.h"

struct dynlib_sym {
	const char *name;
	void *slot;             /* where the function's address goes */
};

#define DYNLIB_MEMBER(f) __typeof__(&f) p_##f;
#define DYNLIB_ENTRY(lib, f) { #f, &lib.p_##f },

/* Opens soname (once: when the first slot is filled it returns at once) and resolves every symbol
 * of syms.  On failure nothing is kept and err says which library or symbol
 * is missing and which Debian package brings it; the next call tries again,
 * so a library installed later is found without a restart. */
int dynlib_load(const char *soname, const char *package, const struct dynlib_sym *syms,
		size_t n, struct errbuf *err);

#endif
