#!/bin/bash
# Configure and build subid in the source tree with the paths a distribution
# uses, so the built modules read /etc/subid.conf.  Arguments are extra
# configure arguments; configure reruns (after a clean) only when they change.
#   tests/build.sh [--enable-werror] ["CFLAGS=..."]...
set -euo pipefail
cd "$(dirname "$0")/.."
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
args=(--prefix=/usr --sysconfdir=/etc --localstatedir=/var ${multiarch:+--libdir=/usr/lib/$multiarch} "$@")
stamp=$(printf '%q ' "${args[@]}")
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	./autogen.sh
fi
if [ ! -f Makefile ] || [ configure -nt config.status ] || [ "$(cat .configure-flags 2>/dev/null)" != "$stamp" ]; then
	[ ! -f Makefile ] || make -s distclean >/dev/null
	./configure "${args[@]}"
	printf '%s\n' "$stamp" >.configure-flags
fi
make -j"$(nproc)"
