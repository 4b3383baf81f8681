#!/bin/bash
# configure as a packager and a newcomer meet it: the default directories
# (securedir LIBDIR/security, plugin directory LIBDIR, both following
# --libdir) and the options that move them; and a clear error naming the
# Debian package to install when a required library is missing (libpam,
# <shadow/subid.h>, libldap, SQLite).  A header or library is made missing
# through configure's own cache variable (the result of its check), SQLite
# by giving pkg-config an empty search path: the error paths are configure's
# real ones.  Each run is in a scratch build directory (VPATH), so the
# tree's own build is untouched.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_tools pkg-config cc make
D=$(mktemp -d "${TMPDIR:-/tmp}/subid-configure.XXXXXX")
trap 'rm -rf "$D"' EXIT
# The tree may be configured itself (a VPATH build then refuses): configure
# runs from a copy of what it reads, timestamps kept so that nothing reruns
# the autotools.
mkdir "$D/src" "$D/src/common"
for f in configure configure.ac aclocal.m4 Makefile.am Makefile.in config.h.in build-aux m4 common/subid_config.c; do
	cp -pR "$top_srcdir/$f" "$D/src/$f"
done

# conf NAME ARGS...: configure in $D/NAME; status in C_RC, output in $D/NAME.log
# (compilers run without the sanitizer pass's libasan preload)
conf() {
	local name=$1
	shift
	mkdir -p "$D/$name"
	C_RC=0
	(cd "$D/$name" && env -u LD_PRELOAD "$D/src/configure" -q "$@") >"$D/$name.log" 2>&1 || C_RC=$?
}
dirs() { make -s -C "$D/$1" --no-print-directory print-install-dirs; }

# ---- directories --------------------------------------------------------------------------------
conf defaults --prefix=/usr --libdir=/usr/lib/x86_64-linux-gnu
check_eq "configure with --prefix and --libdir: exit 0" 0 "$C_RC"
[ "$C_RC" = 0 ] || diag_file "$D/defaults.log"
out=$(dirs defaults)
check_match "securedir defaults to LIBDIR/security" "^securedir='/usr/lib/x86_64-linux-gnu/security' " "$out"
check_match "the plugin directory defaults to LIBDIR (libsubid dlopens it by bare name)" \
	"subidplugindir='/usr/lib/x86_64-linux-gnu'" "$out"
check_match "sysconfdir and localstatedir follow the prefix by default" \
	"sysconfdir='/usr/etc' .*localstatedir='/usr/var'" "$(printf '%s\n' "$out" | tr '\n' ' ')"
conf moved --prefix=/usr --sysconfdir=/etc --localstatedir=/var --with-securedir=/lib/security \
	--with-subid-plugindir=/opt/subid/lib
check_eq "configure with every directory option: exit 0" 0 "$C_RC"
out=$(dirs moved | tr '\n' ' ')
check_match "--with-securedir and --with-subid-plugindir are honoured" \
	"securedir='/lib/security' subidplugindir='/opt/subid/lib'" "$out"
check_match "--sysconfdir and --localstatedir are honoured" "sysconfdir='/etc' .*localstatedir='/var'" "$out"
conf relative --with-securedir=lib/security
check_eq "a relative --with-securedir is refused" 1 "$C_RC"
check_match "... saying why" "must be an absolute path" "$(cat "$D/relative.log")"

# ---- a required library missing -----------------------------------------------------------------
# missing NAME EXPECTED-MESSAGE ARGS...
missing() {
	local name=$1 msg=$2
	shift 2
	conf "$name" "$@"
	check_eq "$name missing: configure fails" 1 "$C_RC"
	check_match "$name missing: the error says what to install" "$msg" "$(cat "$D/$name.log")"
}
missing pam-headers "PAM headers not found: install libpam0g-dev" ac_cv_header_security_pam_modules_h=no
missing libpam "libpam not found: install libpam0g-dev" ac_cv_lib_pam_pam_syslog=no
missing subid-header "<shadow/subid.h> not found: install libsubid-dev" ac_cv_header_shadow_subid_h=no
missing ldap-header "<ldap.h> not found: install libldap-dev" ac_cv_header_ldap_h=no
missing libldap "libldap not found: install libldap-dev" ac_cv_lib_ldap_ldap_initialize=no
missing sqlite "SQLite 3.31 or later not found: install libsqlite3-dev" PKG_CONFIG_LIBDIR="$D/empty" PKG_CONFIG_PATH=
finish
