#!/bin/bash
# make install / uninstall into a DESTDIR, as a packager runs them: the
# modules where PAM and libsubid look (unversioned, no .la), subidctl, the
# man pages, subid.conf (an existing one is never overwritten, a changed one
# survives uninstall), the state directory 0755, nothing else; uninstall
# leaves no file behind.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_build
# the build's own directories, as configure set them
# (stderr apart, and MAKEFLAGS cleared: under "make -j check" a sub-make
# prints the jobserver's notices, which are no shell)
eval "$(env -u MAKEFLAGS -u MFLAGS make -s -C "$top_builddir" --no-print-directory print-install-dirs 2>/dev/null)"
D=$(mktemp -d "${TMPDIR:-/tmp}/subid-install.XXXXXX")
trap 'rm -rf "$D"' EXIT

inst() { env -u MAKEFLAGS -u MFLAGS make -s -C "$top_builddir" --no-print-directory "$@" DESTDIR="$D" >"$D.log" 2>&1; }
check "make install DESTDIR" inst install
files=$(cd "$D" && find . -type f | sed 's|^\.||' | sort)
expect=$(printf '%s\n' \
	"$securedir/pam_subid.so" \
	"$subidplugindir/libsubid_subid.so" \
	"$sbindir/subidctl" \
	"$sysconfdir/subid.conf" \
	"$mandir/man5/subid.conf.5" \
	"$mandir/man8/libsubid_subid.8" \
	"$mandir/man8/pam_subid.8" \
	"$mandir/man8/subidctl.8" \
	$(if [ -n "$pamconfigsdir" ]; then echo "$pamconfigsdir/subid"; fi) | sort)
check_eq "exactly the expected files are installed" "$expect" "$files"
check_eq "no .la file" "" "$(cd "$D" && find . -name '*.la')"
check_eq "the state directory is made 0755" 755 "$(stat -c %a "$D$localstatedir/lib/subid")"
check_eq "the config is 0644" 644 "$(stat -c %a "$D$sysconfdir/subid.conf")"
check_eq "the config is the shipped one" "" "$(cmp "$top_srcdir/conf/subid.conf" "$D$sysconfdir/subid.conf" 2>&1)"
check "the plugin is a shared object exporting the libsubid entry points" \
	grep -q shadow_subid_list_owner_ranges "$D$subidplugindir/libsubid_subid.so"
check_eq "no /etc/subuid in a DESTDIR install (a package must not own it)" "" \
	"$(cd "$D" && find . -name subuid -o -name subgid)"

printf '# the admin was here\nrange_count = 4096\n' >"$D$sysconfdir/subid.conf"
check "make install again" inst install
check_eq "an existing subid.conf is never overwritten" "# the admin was here
range_count = 4096" "$(cat "$D$sysconfdir/subid.conf")"
check "make uninstall" inst uninstall
check_eq "uninstall keeps the changed subid.conf, and only it" "$sysconfdir/subid.conf" \
	"$(cd "$D" && find . -type f | sed 's|^\.||')"
rm -f "$D$sysconfdir/subid.conf"
check "make install, then uninstall" inst install
check "... uninstall" inst uninstall
check_eq "uninstall of an unchanged install leaves no file" "" "$(cd "$D" && find . -type f)"
finish
