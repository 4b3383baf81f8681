#!/bin/bash
# libsubid_subid.so through shadow's real loader (`subid: subid` in
# /etc/nsswitch.conf, private linker cache): getsubids, libsubid's API,
# setuid newuidmap/newgidmap, as root and as the owner, in a private mount
# namespace with an overlay /etc.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester getsubids newuidmap newgidmap setpriv ldconfig python3 sqlite3
subid_require_build
subid_enter_ns "$@"

DB=$W/state/subid.db
RMIN=2147483648 # defaults
RMAX=4294836224
RCOUNT=65536

add_user alice 2001
add_user bob 2002
add_user carol 2003
add_user dockremap 999 65534 # system account, like Debian's docker package makes
printf 'dockremap:100000:65536\n' >/etc/subuid
printf 'dockremap:100000:65536\n' >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid

conf() { # files=yes|no
	write_conf <<EOF
# subid test configuration: default pool
store = local
db_path = $DB
files = $1
EOF
}
conf yes

pam_service subid-test "required $PAM_MODULE" "required pam_permit.so"
login_pair subid-test alice bob
check_true "alice: subuid range inside the default pool" "$A_START" -ge "$RMIN" -a "$((A_START + A_COUNT))" -le "$RMAX"
check_eq "alice: default range_count" "$RCOUNT" "$A_COUNT"

# Control: without the plugin, shadow reads the (empty for alice) files.
capture getsubids alice
check_eq "plugin off: getsubids alice prints no range" "" "$C_OUT"

enable_plugin

# getsubids OWNER-ARGS... must print exactly EXPECTED and load the plugin.
getsubids_is() {
	local desc=$1 expected=$2
	shift 2
	capture "$@"
	check_eq "$desc" "$expected" "$C_OUT"
	check_nomatch "$desc: plugin loaded (no fallback to files)" 'Using files|Error opening|did not provide' "$C_ERR"
}

# ---- getsubids as root -----------------------------------------------------------------
getsubids_is "getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice
check_eq "getsubids alice exits 0" 0 "$C_RC"
getsubids_is "getsubids -g alice" "0: alice $AG_START $AG_COUNT" getsubids -g alice
getsubids_is "getsubids 2001 (owner as decimal uid)" "0: 2001 $A_START $A_COUNT" getsubids 2001
getsubids_is "getsubids -g 2001 (owner as decimal uid)" "0: 2001 $AG_START $AG_COUNT" getsubids -g 2001
getsubids_is "getsubids bob" "0: bob $B_START $B_COUNT" getsubids bob
getsubids_is "getsubids -g bob" "0: bob $BG_START $BG_COUNT" getsubids -g bob
getsubids_is "getsubids carol (known, no range) prints nothing" "" getsubids carol
getsubids_is "getsubids -g carol (known, no range) prints nothing" "" getsubids -g carol
capture getsubids nosuchuser
check_eq "getsubids nosuchuser prints nothing" "" "$C_OUT"
check_true "getsubids nosuchuser fails" "$C_RC" -ne 0
getsubids_is "getsubids dockremap (/etc/subuid entry served by the plugin)" "0: dockremap 100000 65536" getsubids dockremap
getsubids_is "getsubids -g dockremap (/etc/subgid entry served by the plugin)" "0: dockremap 100000 65536" getsubids -g dockremap

# ---- getsubids as the owner (unprivileged) ------------------------------------------------
getsubids_is "as alice: getsubids alice" "0: alice $A_START $A_COUNT" as_user 2001 getsubids alice
check_eq "as alice: getsubids alice exits 0" 0 "$C_RC"
getsubids_is "as alice: getsubids -g alice" "0: alice $AG_START $AG_COUNT" as_user 2001 getsubids -g alice
getsubids_is "as carol: getsubids bob" "0: bob $B_START $B_COUNT" as_user 2003 getsubids bob

# ---- libsubid API (list_owner_ranges, find_subid_owners) -----------------------------------
capture libsubid_query uranges:alice granges:alice uranges:carol uranges:nosuchuser \
	"uowners:$((A_START + 5))" "gowners:$((AG_START + AG_COUNT - 1))" "uowners:$((B_START))" \
	uowners:100005 gowners:100005 "uowners:$((RMAX - 1))"
Q=$C_OUT
[ "$C_RC" -eq 0 ] || { not_ok "libsubid via ctypes ran" "exit $C_RC" "$C_ERR"; }
qline() { printf '%s\n' "$Q" | grep "^$1 " || true; }
check_eq "libsubid: uid ranges of alice" "uranges:alice 1 $A_START+$A_COUNT" "$(qline uranges:alice)"
check_eq "libsubid: gid ranges of alice" "granges:alice 1 $AG_START+$AG_COUNT" "$(qline granges:alice)"
check_eq "libsubid: carol (known, no range): 0 ranges, not an error" "uranges:carol 0" "$(qline uranges:carol)"
check_eq "libsubid: unknown user: error (-1)" "uranges:nosuchuser -1" "$(qline uranges:nosuchuser)"
check_eq "libsubid: owner of a subuid in alice's range" "uowners:$((A_START + 5)) 1 2001" "$(qline "uowners:$((A_START + 5))")"
check_eq "libsubid: owner of the last subgid in alice's range" "gowners:$((AG_START + AG_COUNT - 1)) 1 2001" "$(qline "gowners:$((AG_START + AG_COUNT - 1))")"
check_eq "libsubid: owner of the first subuid in bob's range" "uowners:$B_START 1 2002" "$(qline "uowners:$B_START")"
check_eq "libsubid: owner of a subuid in dockremap's /etc/subuid entry" "uowners:100005 1 999" "$(qline uowners:100005)"
check_eq "libsubid: owner of a subgid in dockremap's /etc/subgid entry" "gowners:100005 1 999" "$(qline gowners:100005)"
check_eq "libsubid: unowned id has no owner" "uowners:$((RMAX - 1)) 0" "$(qline "uowners:$((RMAX - 1))")"

# ---- newuidmap / newgidmap as alice ---------------------------------------------------------
# map_ok TOOL DESC MAPPING...: TOOL (newuidmap|newgidmap) run as alice on a
# fresh user namespace of hers accepts MAPPING, and the kernel map shows it.
map_ok() {
	local tool=$1 desc=$2 file expected=
	shift 2
	file=uid
	[ "$tool" = newgidmap ] && file=gid
	start_userns_sleeper 2001
	check "$desc: $tool accepts $*" as_user 2001 "$tool" "$SLEEPER_PID" "$@"
	while [ $# -ge 3 ]; do
		expected="$expected${expected:+$'\n'}$1 $2 $3"
		shift 3
	done
	check_eq "$desc: /proc/PID/${file}_map" "$expected" "$(read_map "$SLEEPER_PID" "$file")"
	stop_sleeper "$SLEEPER_PID"
}
map_refused() {
	local tool=$1 desc=$2 file
	shift 2
	file=uid
	[ "$tool" = newgidmap ] && file=gid
	start_userns_sleeper 2001
	log_clear
	check_fail "$desc: $tool refuses $*" as_user 2001 "$tool" "$SLEEPER_PID" "$@"
	check_eq "$desc: /proc/PID/${file}_map stays empty" "" "$(read_map "$SLEEPER_PID" "$file")"
	# a range the owner lacks (the fail-closed cases below log their own cause)
	[ -z "${log_refusals:-}" ] ||
		log_grep "refused owner=alice kind=sub$file start=$2 count=$3 reason=\"not within the owner's ranges\"" \
			"$desc: the plugin logs the refusal"
	stop_sleeper "$SLEEPER_PID"
}

map_ok newuidmap "alice's whole subuid range" 0 "$A_START" "$A_COUNT"
map_ok newgidmap "alice's whole subgid range" 0 "$AG_START" "$AG_COUNT"
map_ok newuidmap "two extents inside alice's range" 0 "$((A_START + 100))" 1000 1000 "$((A_START + 5000))" 10
map_ok newuidmap "last subuid of alice's range" 0 "$((A_START + A_COUNT - 1))" 1
log_refusals=yes
map_refused newuidmap "straddling the end of alice's range" 0 "$((A_START + A_COUNT - 1))" 2
map_refused newuidmap "straddling the start of alice's range" 0 "$((A_START - 1))" 2
map_refused newuidmap "outside every range" 0 1000000 100
map_refused newuidmap "inside bob's subuid range" 0 "$B_START" 100
map_refused newgidmap "inside bob's subgid range" 0 "$BG_START" 100
map_refused newuidmap "inside dockremap's /etc/subuid entry" 0 100000 100
map_refused newgidmap "outside every range" 0 1000000 100
log_refusals=

# ---- the plugin fails closed ------------------------------------------------------------------
# no_answer DESC: alice's ranges are not served and newuidmap/newgidmap refuse
# them (has_range answers false on every error).
no_answer() {
	capture getsubids alice
	check_eq "$1: getsubids alice prints nothing" "" "$C_OUT"
	map_refused newuidmap "$1: fail closed" 0 "$A_START" "$A_COUNT"
	map_refused newgidmap "$1: fail closed" 0 "$AG_START" "$AG_COUNT"
}

write_conf <<EOF
db_path = $DB
frobnicate = yes
EOF
no_answer "config with an unknown key"
conf yes
chmod 0666 "$SUBID_CONF_PATH"
no_answer "world-writable $SUBID_CONF_PATH"
chmod 0644 "$SUBID_CONF_PATH"
chown 2001 "$SUBID_CONF_PATH"
no_answer "$SUBID_CONF_PATH owned by alice"
chown 0 "$SUBID_CONF_PATH"
chmod 0666 "$DB"
no_answer "world-writable store database"
chmod 0644 "$DB"
chown 2001 "$DB"
no_answer "store database owned by alice"
chown 0 "$DB"
getsubids_is "config and store safe again: getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice

# ---- a reader meeting a writer's lock waits, it does not answer "no range" -------------------
db_lock EXCLUSIVE 0.7
T0=$(now_ms)
capture getsubids alice
T1=$(now_ms)
db_unlock
check_eq "store locked exclusively for 0.7 s: getsubids alice still answers" "0: alice $A_START $A_COUNT" "$C_OUT"
check_true "... after waiting for the lock (took $((T1 - T0)) ms)" $((T1 - T0)) -ge 300
start_userns_sleeper 2001
db_lock EXCLUSIVE 0.7
check "store locked exclusively for 0.7 s: newuidmap accepts alice's range" \
	as_user 2001 newuidmap "$SLEEPER_PID" 0 "$A_START" "$A_COUNT"
db_unlock
check_eq "... and /proc/PID/uid_map shows it" "0 $A_START $A_COUNT" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"

# ---- union of store and files; adjacent ranges cover together ----------------------------------
printf 'dockremap:100000:65536\nalice:%s:1000\n' "$((A_START - 1000))" >/etc/subuid
capture getsubids alice
check_eq "alice with an /etc/subuid entry too: getsubids alice prints both ranges" \
	"$(printf '%s 1000\n%s %s' "$((A_START - 1000))" "$A_START" "$A_COUNT")" \
	"$(printf '%s\n' "$C_OUT" | awk '{print $3, $4}' | LC_ALL=C sort -n)"
map_ok newuidmap "spanning alice's /etc/subuid entry and her adjacent store range" 0 "$((A_START - 500))" 1000
map_refused newuidmap "starting below alice's /etc/subuid entry" 0 "$((A_START - 1001))" 2

# ---- files = no ----------------------------------------------------------------------------
conf no
getsubids_is "files = no: getsubids dockremap prints nothing" "" getsubids dockremap
getsubids_is "files = no: getsubids -g dockremap prints nothing" "" getsubids -g dockremap
getsubids_is "files = no: getsubids alice serves only the store range" "0: alice $A_START $A_COUNT" getsubids alice

finish
