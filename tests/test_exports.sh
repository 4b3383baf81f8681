#!/bin/bash
# Both modules export exactly their entry points; the static core is hidden
# (not in the dynamic symbol table, not resolvable with dlsym); neither links
# libldap, which the store = ldap code loads when it is used.  No root needed.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_tools nm readelf python3
subid_require_build
trap _subid_cleanup EXIT

# exports FILE: defined dynamic symbols, sorted, space-separated.
exports() {
	nm -D --defined-only "$1" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
}

check "nm -D reads pam_subid.so" nm -D --defined-only "$PAM_MODULE"
check_eq "pam_subid.so exports exactly the session entry points" \
	"pam_sm_close_session pam_sm_open_session" "$(exports "$PAM_MODULE")"
check "nm -D reads libsubid_subid.so" nm -D --defined-only "$PLUGIN"
check_eq "libsubid_subid.so exports exactly the libsubid plugin interface" \
	"shadow_subid_find_subid_owners shadow_subid_free shadow_subid_has_range shadow_subid_list_owner_ranges" \
	"$(exports "$PLUGIN")"

# dlopen each module and ask dlsym for entry points and for internal names.
capture python3 - "$PAM_MODULE" "$PLUGIN" <<'EOF'
import ctypes, os, sys
internal = ["subid_config_load", "subid_store_open_rw", "subid_store_open_ro", "subid_core_ensure",
            "subid_core_list", "subid_log", "subid_first_fit"]
public = {
    sys.argv[1]: ["pam_sm_open_session", "pam_sm_close_session"],
    sys.argv[2]: ["shadow_subid_has_range", "shadow_subid_list_owner_ranges",
                  "shadow_subid_find_subid_owners", "shadow_subid_free"],
}
for path in sys.argv[1:3]:
    name = os.path.basename(path)
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        print("dlopen %s failed: %s" % (name, e))
        continue
    print("dlopen %s ok" % name)
    for sym in public[path]:
        print("%s %s %s" % (name, sym, "found" if hasattr(lib, sym) else "missing"))
    for sym in internal:
        print("%s %s %s" % (name, sym, "found" if hasattr(lib, sym) else "missing"))
EOF
DL=$C_OUT
[ "$C_RC" -eq 0 ] || not_ok "python3 dlopen/dlsym check ran" "exit $C_RC" "$C_ERR"
for mod in "$PAM_MODULE" "$PLUGIN"; do
	name=$(basename "$mod")
	check_match "dlopen($name) with RTLD_NOW (no undefined symbols)" "^dlopen $(rx "$name") ok\$" "$DL"
	if [ "$mod" = "$PAM_MODULE" ]; then
		pub="pam_sm_open_session pam_sm_close_session"
	else
		pub="shadow_subid_has_range shadow_subid_list_owner_ranges shadow_subid_find_subid_owners shadow_subid_free"
	fi
	for sym in $pub; do
		check_match "dlsym($name, $sym) resolves" "^$(rx "$name") $sym found\$" "$DL"
	done
	for sym in subid_config_load subid_store_open_rw subid_store_open_ro subid_core_ensure subid_core_list subid_log subid_first_fit; do
		check_match "dlsym($name, $sym) does not resolve (internal)" "^$(rx "$name") $sym missing\$" "$DL"
	done
	# libldap (with gnutls, p11-kit, SASL) is loaded only when store = ldap
	check_nomatch "$name does not link libldap, liblber or gnutls (loaded when store = ldap)" \
		'libldap|liblber|libgnutls|libsasl' "$(readelf -d "$mod" | grep NEEDED)"
done
check_nomatch "subidctl does not link libldap either" 'libldap|liblber' "$(readelf -d "$SUBIDCTL" | grep NEEDED)"

finish
