#!/bin/sh
# Configure and build subid in the source tree with the paths a distribution
# uses, so the built modules read /etc/subid.conf.  Extra configure flags come
# from SUBID_CONFIGURE_FLAGS; configure reruns only when they change.
set -eu
cd "$(dirname "$0")/.."
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
flags="--prefix=/usr --sysconfdir=/etc --localstatedir=/var${multiarch:+ --libdir=/usr/lib/$multiarch} ${SUBID_CONFIGURE_FLAGS:-}"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	./autogen.sh
fi
if [ ! -f Makefile ] || [ configure -nt config.status ] || [ "$(cat .configure-flags 2>/dev/null)" != "$flags" ]; then
	# shellcheck disable=SC2086
	./configure $flags
	printf '%s\n' "$flags" > .configure-flags
fi
make -j"$(nproc)"
