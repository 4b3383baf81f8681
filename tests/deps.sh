#!/bin/sh
# Install the Debian 12 packages subid needs: "build" (build + demo),
# "test" (build + demo + the whole test suite) or "bench" (make bench).
# Does nothing when they are all installed already; needs root otherwise.
set -eu

build_pkgs="autoconf automake libtool pkg-config make gcc libc6-dev
  libpam0g-dev libsubid-dev libsqlite3-dev libldap-dev
  pamtester uidmap util-linux python3 sqlite3 git ca-certificates"
test_pkgs="libcmocka-dev libpam-wrapper libpamtest0-dev libnss-wrapper
  clang valgrind binutils slapd ldap-utils openssl
  sssd-ldap libnss-sss sssd-tools man-db groff-base
  dpkg-dev debhelper lintian"
bench_pkgs="hyperfine time valgrind libnss-db"

case "${1:-build}" in
	build) pkgs=$build_pkgs ;;
	test) pkgs="$build_pkgs $test_pkgs" ;;
	bench) pkgs="$build_pkgs $bench_pkgs" ;;
	*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# package scripts must not start daemons (slapd) on this machine
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
