#!/bin/bash
# The main job, end to end, on a fresh Debian 12 machine (README command 1):
# install the build dependencies, build, then in a private mount namespace
# (nothing on this host changes) log a user in through the real PAM stack so
# that pam_subid allocates a range in the embedded default store, and watch
# shadow's own getsubids and setuid newuidmap/newgidmap accept it through
# libsubid_subid.so.  Run as root.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

if [ -z "${SUBID_TEST_IN_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "demo.sh: run as root (it installs packages and uses a private mount namespace)" >&2
		exit 1
	fi
	"$here/deps.sh" build
	"$here/build.sh"
	make -C "$top" -s tests/paths.sh
fi

top_builddir=$top top_srcdir=$top
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
TEST_NAME=demo
load_paths
subid_require_root
subid_require_build
subid_enter_ns "$@"

# The default store and index live under /var/lib: give the namespace its own view.
_overlay "$(dirname "$(dirname "$(dirname "$SUBID_DB_PATH")")")"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
USER_NAME=alice
USER_ID=4242

# The shipped configuration: every key commented out, so all defaults.
write_conf <"$top/conf/subid.conf"
add_user "$USER_NAME" "$USER_ID"
: >>/etc/subuid
: >>/etc/subgid
pam_service subid-demo "optional $PAM_MODULE" "required pam_permit.so"
diag "service /etc/pam.d/subid-demo: session optional $PAM_MODULE"

say pamtester subid-demo $USER_NAME open_session close_session
check "first login of $USER_NAME succeeds" pamtester subid-demo "$USER_NAME" open_session close_session
cat "$T_OUT"
say "syslog:"
log_text | grep 'pam_subid' || true
log_grep "granted user=$USER_NAME uid=$USER_ID kind=subuid start=2147483648 count=65536"
log_grep "granted user=$USER_NAME uid=$USER_ID kind=subgid start=2147483648 count=65536"
check "the default writer store $SUBID_DB_PATH exists" test -f "$SUBID_DB_PATH"
IDX=$(dirname "$(dirname "$SUBID_DB_PATH")")/ranges.idx
check "the read index $IDX exists" test -f "$IDX"
ls -ld "$(dirname "$SUBID_DB_PATH")" "$SUBID_DB_PATH" "$IDX"

enable_plugin
say "grep subid: /etc/nsswitch.conf"
grep '^subid:' /etc/nsswitch.conf
for args in "$USER_NAME" "-g $USER_NAME" "$USER_ID"; do
	say getsubids $args
	# shellcheck disable=SC2086
	check "getsubids $args" getsubids $args
	cat "$T_OUT"
	check_match "getsubids $args prints the range" "^0: ($USER_NAME|$USER_ID) 2147483648 65536$" "$(cat "$T_OUT")"
done

start_userns_sleeper "$USER_ID"
pid=$SLEEPER_PID
say "as $USER_NAME: newuidmap $pid 0 2147483648 65536; newgidmap $pid 0 2147483648 65536"
check "newuidmap accepts the allocated range" as_user "$USER_ID" newuidmap "$pid" 0 2147483648 65536
check "newgidmap accepts the allocated range" as_user "$USER_ID" newgidmap "$pid" 0 2147483648 65536
say "cat /proc/$pid/uid_map /proc/$pid/gid_map"
cat "/proc/$pid/uid_map" "/proc/$pid/gid_map"
check_eq "uid_map of the user namespace" "0 2147483648 65536" "$(read_map "$pid" uid)"
stop_sleeper "$pid"

start_userns_sleeper "$USER_ID"
pid=$SLEEPER_PID
say "as $USER_NAME: newuidmap $pid 0 100000 65536   (not $USER_NAME's range)"
check_fail "newuidmap refuses a range the user does not own" as_user "$USER_ID" newuidmap "$pid" 0 100000 65536
cat "$T_OUT"
stop_sleeper "$pid"

finish
