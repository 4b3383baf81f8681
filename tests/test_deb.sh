#!/bin/bash
# The Debian packages, built and installed on this host as an admin would:
#   1. dpkg-buildpackage -us -uc -b in a copy of the tree (tracked and
#      untracked files, so uncommitted changes are tested too), never in the
#      tree itself; lintian reports no error;
#   2. apt-get install ./*.deb: the files where PAM, libsubid and the admin
#      look, /etc/subid.conf a conffile, pam-auth-update put pam_subid.so in
#      common-session, the linker cache knows the plugin;
#   3. in a private mount namespace (the host's /etc is not changed beyond
#      the install): a login through the distribution's common-session
#      allocates a range, getsubids serves it through the installed plugin
#      ("subid: subid" in a private nsswitch.conf), setuid newuidmap and
#      newgidmap accept it;
#   4. a changed /etc/subid.conf survives reinstalling; remove keeps the
#      configuration and the store, purge leaves nothing behind.
# It installs and purges packages on the host: root only, and not part of
# "make check" (tests/ci.sh runs it).  Whatever happens, the packages are
# purged at exit.
set -eu
. "$(dirname "$0")/lib.sh"

PKGS="subid-common libpam-subid libsubid-subid subidctl"
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
SECUREDIR=/usr/lib/$MA/security
PLUGINDIR=/usr/lib/$MA
SUBID_CONF_PATH=/etc/subid.conf
SUBID_DB_PATH=/var/lib/subid/private/subid.db
USER_NAME=debtest
USER_ID=4343
POOL_START=2147483648

export DEBIAN_FRONTEND=noninteractive

# on_host PKG: dpkg has PKG installed, half-installed or with its
# configuration left (anything but not-installed)
on_host() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^.[^n ]'; }

# ---- 3. the end-to-end scenario, run by step 3 as: test_deb.sh --scenario --
if [ "${1:-}" = --scenario ]; then
	# shellcheck disable=SC2034 # read by lib.sh
	TEST_NAME=test_deb-scenario
	subid_enter_ns "$@"
	# the store stays the installed package's /var/lib/subid, so that purge
	# is seen to remove a real one
	add_user "$USER_NAME" "$USER_ID"
	: >>/etc/subuid
	: >>/etc/subgid
	{
		echo "# subid test service: the distribution's session stack"
		echo "auth     required pam_permit.so"
		echo "account  required pam_permit.so"
		echo "@include common-session"
	} >/etc/pam.d/subid-deb-test
	check "login through common-session succeeds" pamtester subid-deb-test "$USER_NAME" open_session close_session
	log_grep "pam_subid\(subid-deb-test:session\): granted user=$USER_NAME uid=$USER_ID kind=subuid start=$POOL_START count=65536"
	log_grep "granted user=$USER_NAME uid=$USER_ID kind=subgid start=$POOL_START count=65536"
	check "the store $SUBID_DB_PATH exists" test -f "$SUBID_DB_PATH"
	check_eq "the writer store is 0600 root" "600 0" "$(stat -c '%a %u' "$SUBID_DB_PATH" 2>&1)"
	check_eq "in a 0700 root directory" "700 0" "$(stat -c '%a %u' "$(dirname "$SUBID_DB_PATH")" 2>&1)"
	check_eq "the read index /var/lib/subid/ranges.idx is 0644 root" "644 0" \
		"$(stat -c '%a %u' /var/lib/subid/ranges.idx 2>&1)"
	check "a second login succeeds" pamtester subid-deb-test "$USER_NAME" open_session close_session

	# the installed subidctl reads the installed /etc/subid.conf and store
	capture subidctl show "$USER_NAME"
	check_eq "subidctl show exits 0" 0 "$C_RC"
	check_match "subidctl show prints the range" "$POOL_START" "$C_OUT"

	# the plugin, through shadow's real loader and the real linker cache
	# (which the package's ldconfig trigger updated)
	check_match "the linker cache has the installed plugin" \
		"libsubid_subid\.so .*=> (/usr)?$(rx "/lib/$MA/libsubid_subid.so")\$" "$(ldconfig -p)"
	grep -v '^[[:space:]]*subid:' /etc/nsswitch.conf >"$W/nsswitch.conf" || true
	printf 'subid: subid\n' >>"$W/nsswitch.conf"
	cat "$W/nsswitch.conf" >/etc/nsswitch.conf
	capture getsubids "$USER_NAME"
	check_eq "getsubids $USER_NAME (plugin)" "0: $USER_NAME $POOL_START 65536" "$C_OUT"
	capture getsubids -g "$USER_NAME"
	check_eq "getsubids -g $USER_NAME (plugin)" "0: $USER_NAME $POOL_START 65536" "$C_OUT"

	start_userns_sleeper "$USER_ID"
	pid=$SLEEPER_PID
	check "setuid newuidmap accepts the allocated range" as_user "$USER_ID" newuidmap "$pid" 0 "$POOL_START" 65536
	check "setuid newgidmap accepts the allocated range" as_user "$USER_ID" newgidmap "$pid" 0 "$POOL_START" 65536
	check_eq "uid_map of the user namespace" "0 $POOL_START 65536" "$(read_map "$pid" uid)"
	check_eq "gid_map of the user namespace" "0 $POOL_START 65536" "$(read_map "$pid" gid)"
	stop_sleeper "$pid"
	start_userns_sleeper "$USER_ID"
	pid=$SLEEPER_PID
	check_fail "newuidmap refuses a range the user does not own" as_user "$USER_ID" newuidmap "$pid" 0 100000 65536
	stop_sleeper "$pid"
	finish
fi

# ---- on the host -------------------------------------------------------------------
subid_require_root
[ -r /etc/debian_version ] || skip_or_error "not a Debian system"
subid_require_tools git dpkg-buildpackage dh lintian apt-get pam-auth-update \
	pamtester getsubids newuidmap newgidmap unshare setpriv python3 strings

# This test installs and purges the packages: it must not take over (and
# then purge) an installation the host already has.
for p in $PKGS; do
	if on_host "$p"; then
		hard_error "package $p is already installed (or not purged) on this host: purge it first (apt-get purge $PKGS)"
	fi
done
for f in "$SUBID_CONF_PATH" /var/lib/subid "$SECUREDIR/pam_subid.so" "$PLUGINDIR/libsubid_subid.so" \
	/usr/sbin/subidctl /usr/share/pam-configs/subid; do
	[ ! -e "$f" ] || hard_error "$f exists already (a make install?): remove it first"
done
! grep -q pam_subid /etc/pam.d/common-session ||
	hard_error "/etc/pam.d/common-session already mentions pam_subid"

B=$(mktemp -d "${TMPDIR:-/tmp}/subid-deb.XXXXXX")
chmod 0755 "$B"
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p installed=
	for p in $PKGS; do
		if on_host "$p"; then
			installed="$installed $p"
		fi
	done
	if [ -n "$installed" ]; then
		echo "# cleanup: purging$installed" >&2
		# shellcheck disable=SC2086
		apt-get purge -y -q $installed >"$B/cleanup.log" 2>&1 ||
			dpkg --purge --force-all $installed >>"$B/cleanup.log" 2>&1 || true
	fi
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- 1. build and lint -------------------------------------------------------------
t0=$(date +%s)
git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
	skip_or_error "$top_srcdir is not a git checkout (files to package are chosen with git ls-files)"
version=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)
upstream=${version%-*}
S=$B/subid-$upstream
mkdir -p "$S"
# tracked and untracked files, as they are now (not the build outputs the
# .gitignore lists, and not tracked files deleted in the work tree)
(cd "$top_srcdir" && git ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -C "$S" -xf -
check "the tree is copied" test -x "$S/debian/rules"

# build dependencies (tests/deps.sh test installs them; install what is missing)
unmet=$(cd "$S" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' | sed 's/([^)]*)//g; s/|/ /g')
if [ -n "$unmet" ]; then
	diag "installing the missing build dependencies: $unmet"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $unmet >"$B/builddeps.log" 2>&1 ||
		{ diag_file "$B/builddeps.log"; hard_error "cannot install the build dependencies: $unmet"; }
fi

rc=0
(cd "$S" && dpkg-buildpackage -us -uc -b) >"$B/build.log" 2>&1 || rc=$?
check_eq "dpkg-buildpackage -us -uc -b exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || { tail -n 40 "$B/build.log" | sed 's/^/#   | /'; hard_error "the packages did not build"; }
t1=$(date +%s)
diag "build: $((t1 - t0)) s"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
changes=$B/subid_${version}_$arch.changes
check "the .changes file exists" test -f "$changes"
debs=()
for p in $PKGS; do
	f=$(find "$B" -maxdepth 1 -name "${p}_${version}_*.deb" | head -n 1)
	check "package $p is built" test -n "$f"
	[ -z "$f" ] || debs+=("$f")
done
[ "${#debs[@]}" -eq 4 ] || hard_error "not every package was built"
check_nomatch "no .la file in any package" '\.la$' "$(for d in "${debs[@]}"; do dpkg-deb -c "$d"; done)"

# lintian exits 0 (clean) or 1 (tags at "error"); anything else means it did not check
lrc=0
lintian --allow-root --pedantic "$changes" >"$B/lintian.log" 2>&1 || lrc=$?
check_true "lintian ran to the end (exit $lrc)" "$lrc" -le 1
check_eq "lintian exits 0 (no tag at error level)" 0 "$lrc"
check_nomatch "lintian reports no error" '^E: ' "$(cat "$B/lintian.log")"
diag "lintian: $(grep -c '^E: ' "$B/lintian.log") errors, $(grep -c '^W: ' "$B/lintian.log") warnings, $(grep -c '^[IP]: ' "$B/lintian.log") info/pedantic"
grep -E '^[EW]: ' "$B/lintian.log" | sed 's/^/#   | /' || true
t2=$(date +%s)
diag "lintian: $((t2 - t1)) s"

# ---- 2. install, check the layout --------------------------------------------------
rc=0
apt-get install -y -q "${debs[@]}" >"$B/install.log" 2>&1 || rc=$?
check_eq "apt-get install of the packages exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || { diag_file "$B/install.log"; hard_error "the packages did not install"; }
for p in $PKGS; do
	check_eq "$p is installed" "install ok installed" "$(dpkg-query -W -f='${Status}' "$p" 2>&1)"
done

owner() { dpkg-query -S "$1" 2>/dev/null | sed 's/:.*//'; }
# libldap is dlopen()ed (store = ldap), so the dependency is declared by hand in debian/rules
ldap_so=$(sed -n 's/^#define SUBID_LDAP_SONAME "\(.*\)"$/\1/p' "$top_builddir/config.h")
ldap_pkg=$(owner "/usr/lib/$MA/$ldap_so")
check_true "the package shipping $ldap_so is known ($ldap_pkg)" -n "$ldap_pkg"
for p in libpam-subid libsubid-subid subidctl; do
	check_match "$p depends on $ldap_pkg (dlopen()ed for store = ldap)" "(^|, )$(rx "$ldap_pkg")(,|$| )" \
		"$(dpkg-query -W -f='${Depends}' "$p")"
done
check_eq "pam_subid.so in the multiarch securedir, from libpam-subid" libpam-subid "$(owner "$SECUREDIR/pam_subid.so")"
check_eq "the plugin in the multiarch libdir, from libsubid-subid" libsubid-subid "$(owner "$PLUGINDIR/libsubid_subid.so")"
check_eq "subidctl in /usr/sbin, from subidctl" subidctl "$(owner /usr/sbin/subidctl)"
check_eq "the pam-auth-update profile, from libpam-subid" libpam-subid "$(owner /usr/share/pam-configs/subid)"
check_eq "/etc/subid.conf, from subid-common" subid-common "$(owner "$SUBID_CONF_PATH")"
check_eq "/var/lib/subid, from subid-common" subid-common "$(owner /var/lib/subid)"
for m in man5/subid.conf.5 man8/pam_subid.8 man8/libsubid_subid.8 man8/subidctl.8; do
	check "man page $m is installed" test -f "/usr/share/man/$m.gz"
done
check_eq "/etc/subid.conf is the shipped one" "" "$(cmp "$top_srcdir/conf/subid.conf" "$SUBID_CONF_PATH" 2>&1)"
check_eq "/etc/subid.conf is 0644 root" "644 0 0" "$(stat -c '%a %u %g' "$SUBID_CONF_PATH")"
check_match "/etc/subid.conf is a conffile of subid-common" "^ $(rx "$SUBID_CONF_PATH") [0-9a-f]{32}\$" \
	"$(dpkg-query -W -f='${Conffiles}\n' subid-common)"
check_eq "/var/lib/subid is a 0755 root directory" "directory 755 0 0" "$(stat -c '%F %a %u %g' /var/lib/subid)"
check_eq "/var/lib/subid/private is a 0700 root directory (subid-common's postinst)" "directory 700 0 0" \
	"$(stat -c '%F %a %u %g' /var/lib/subid/private)"
sqlite_pkg=$(dpkg-query -S "/usr/lib/$MA/libsqlite3.so.0" | sed -n '1s/:.*//p')
for p in libpam-subid subidctl; do
	check_match "$p depends on $sqlite_pkg (dlopen()ed by the writers)" "(^|, )$(rx "$sqlite_pkg")(,|$| )" \
		"$(dpkg-query -W -f='${Depends}' "$p")"
done
# shellcheck disable=SC2086
check_eq "no .la file installed" "" "$(dpkg -L $PKGS | grep '\.la$' || true)"
check "the profile is the one in the tree" cmp "$top_srcdir/conf/pam-configs/subid" /usr/share/pam-configs/subid
check_match "pam-auth-update enabled pam_subid in common-session" '^session[[:space:]]+optional[[:space:]]+pam_subid\.so' \
	"$(cat /etc/pam.d/common-session)"
check_match "and in common-session-noninteractive" '^session[[:space:]]+optional[[:space:]]+pam_subid\.so' \
	"$(cat /etc/pam.d/common-session-noninteractive)"
l_unix=$(grep -n 'pam_unix\.so' /etc/pam.d/common-session | head -n 1 | cut -d: -f1)
l_subid=$(grep -n 'pam_subid\.so' /etc/pam.d/common-session | head -n 1 | cut -d: -f1)
check_true "pam_subid comes after pam_unix in common-session" "${l_subid:-0}" -gt "${l_unix:-999}"
check_nomatch "nsswitch.conf is not touched by the packages" '^[[:space:]]*subid:' "$(cat /etc/nsswitch.conf)"
check_match "the ldconfig trigger put the plugin in the linker cache" \
	"libsubid_subid\.so .*=> (/usr)?$(rx "/lib/$MA/libsubid_subid.so")\$" "$(ldconfig -p)"
check_match "compiled-in configuration path is /etc/subid.conf" "$(rx "$SUBID_CONF_PATH")" \
	"$(strings "$SECUREDIR/pam_subid.so" | grep '^/etc/')"
check_match "compiled-in store path is $SUBID_DB_PATH" "$(rx "$SUBID_DB_PATH")" \
	"$(strings "$PLUGINDIR/libsubid_subid.so" | grep '^/var/')"
check "subidctl runs" subidctl list
check "/etc/subuid and /etc/subgid exist after the install (newuidmap needs them)" test -f /etc/subuid -a -f /etc/subgid
# the plugin's postinst makes them when missing, and never touches existing ones
for f in /etc/subuid /etc/subgid; do mv "$f" "$B/$(basename "$f").host"; done
printf 'keep:1:1\n' >/etc/subgid
/var/lib/dpkg/info/libsubid-subid.postinst configure >"$B/postinst.log" 2>&1 || true
check_eq "postinst configure: a missing /etc/subuid is made empty, 0644 root" "0 644 0 0" \
	"$(stat -c '%s %a %u %g' /etc/subuid 2>&1)"
check_eq "postinst configure: an existing /etc/subgid is kept as it was" "keep:1:1" "$(cat /etc/subgid)"
for f in /etc/subuid /etc/subgid; do mv "$B/$(basename "$f").host" "$f"; done

# ---- 3. end to end against the installed files, in a private namespace -------------
t3=$(date +%s)
out=$B/scenario.out
rc=0
bash "$0" --scenario >"$out" 2>&1 || rc=$?
sed 's/^/  /' "$out"
n_ok=$(grep -c '^ok - ' "$out" || true)
n_bad=$(grep -c '^not ok - ' "$out" || true)
T_PASS=$((T_PASS + n_ok))
T_FAIL=$((T_FAIL + n_bad))
check_eq "the scenario in the namespace exits 0" 0 "$rc"
check_true "the scenario ran its checks" "$n_ok" -ge 10
check_nomatch "the scenario's test user is not on the host" "^$USER_NAME:" "$(cat /etc/passwd)"
check_nomatch "nsswitch.conf on the host is untouched" '^[[:space:]]*subid:' "$(cat /etc/nsswitch.conf)"
t4=$(date +%s)

# ---- 4. conffile, remove, purge ------------------------------------------------------
printf '# the admin was here\n' >>"$SUBID_CONF_PATH"
rc=0
dpkg -i "$(printf '%s\n' "${debs[@]}" | grep '/subid-common_')" >"$B/reinstall.log" 2>&1 || rc=$?
check_eq "reinstalling subid-common exits 0" 0 "$rc"
check_match "a changed /etc/subid.conf survives reinstalling" '^# the admin was here$' "$(cat "$SUBID_CONF_PATH")"

rc=0
# shellcheck disable=SC2086
apt-get remove -y -q $PKGS >"$B/remove.log" 2>&1 || rc=$?
check_eq "apt-get remove exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || diag_file "$B/remove.log"
check_nomatch "remove: pam_subid is out of common-session" 'pam_subid' "$(cat /etc/pam.d/common-session)"
check_nomatch "remove: pam_subid is out of common-session-noninteractive" 'pam_subid' \
	"$(cat /etc/pam.d/common-session-noninteractive)"
for f in "$SECUREDIR/pam_subid.so" "$PLUGINDIR/libsubid_subid.so" /usr/sbin/subidctl /usr/share/pam-configs/subid; do
	check "remove: $f is gone" test ! -e "$f"
done
check_nomatch "remove: the linker cache forgot the plugin" 'libsubid_subid\.so' "$(ldconfig -p)"
check "remove: /etc/subid.conf is kept" test -f "$SUBID_CONF_PATH"
check "remove: the store is kept" test -f "$SUBID_DB_PATH"

rc=0
# shellcheck disable=SC2086
apt-get purge -y -q $PKGS >"$B/purge.log" 2>&1 || rc=$?
check_eq "apt-get purge exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || diag_file "$B/purge.log"
for p in $PKGS; do
	check_fail "purge: dpkg forgot $p" on_host "$p"
done
for f in "$SUBID_CONF_PATH" /var/lib/subid "$SECUREDIR/pam_subid.so" "$PLUGINDIR/libsubid_subid.so" \
	/usr/sbin/subidctl /usr/share/pam-configs/subid /usr/share/doc/subid-common; do
	check "purge: $f is gone" test ! -e "$f"
done
check_nomatch "purge: pam_subid is out of common-session" 'pam_subid' "$(cat /etc/pam.d/common-session)"
t5=$(date +%s)
diag "times: build $((t1 - t0)) s, lintian $((t2 - t1)) s, install and layout $((t3 - t2)) s, scenario $((t4 - t3)) s, remove and purge $((t5 - t4)) s, total $((t5 - t0)) s"
finish
