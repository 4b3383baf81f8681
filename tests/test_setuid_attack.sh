#!/bin/bash
# An unprivileged user (mallory) attacks the libsubid plugin inside the real
# setuid-root newuidmap/newgidmap: she tries to get a subordinate range she
# does not own (alice's, or one of her own choosing) mapped into a user
# namespace of hers through a hostile environment, a hostile working
# directory, an unsafe config or read index (the plugin must fail closed), an
# index swapped under the plugin's feet, and hostile has_range arguments.  The
# plugin reads only the published index (root-owned, 0644, in directories only
# root can change), never the writer store: a forged index is what mallory
# would need.  Every attack must be refused (non-zero exit,
# /proc/PID/{uid,gid}_map empty) while mallory's own range still maps where the
# setup is not meant to break the plugin.  Root only, private mount namespace
# with an overlay /etc.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester getsubids newuidmap newgidmap setpriv ldconfig python3 sqlite3 gcc env
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db # the writer store: root's alone, the plugin never reads it
IDX=$W/state/ranges.idx      # the published read index: what the plugin reads
M=$W/m              # mallory's own directory (uid 2002)
FORGED=$W/forged    # root-owned directory with a root-owned forged index (and store) and config
BIG=3000000000      # a range of mallory's own choosing, owned by nobody

add_user alice 2001
add_user mallory 2002
: >/etc/subuid
: >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid

# conf_db DB [INDEX]: the root-owned, safe /etc/subid.conf with db_path = DB
# (and index_path = INDEX; by default ranges.idx in the directory above DB's).
conf_db() {
	rm -f "$SUBID_CONF_PATH"
	write_conf <<EOF
# subid test configuration: default pool
store = local
db_path = $1
${2:+index_path = $2}
files = yes
EOF
}
conf_db "$DB"

pam_service subid-test "required $PAM_MODULE" "required pam_permit.so"
login_pair subid-test alice mallory
check_true "alice's and mallory's subuid ranges are disjoint" \
	"$((A_START + A_COUNT))" -le "$B_START" -o "$((B_START + B_COUNT))" -le "$A_START"
check_true "$BIG is outside both subuid ranges" \
	"$BIG" -ge "$((A_START + A_COUNT))" -a "$BIG" -ge "$((B_START + B_COUNT))"
check_eq "the store is root-owned 0600 in a root-owned 0700 directory" "0:0:600 0:0:700" \
	"$(stat -c %u:%g:%a "$DB") $(stat -c %u:%g:%a "$(dirname "$DB")")"
check_eq "the index is root-owned 0644 in a root-owned 0755 directory" "0:0:644 0:0:755" \
	"$(stat -c %u:%g:%a "$IDX") $(stat -c %u:%g:%a "$(dirname "$IDX")")"

enable_plugin

# ---- counters and the two probes ----------------------------------------------------------
ATTEMPTS=0  # attacks through the setuid tools
REFUSED=0
CONTROLS=0  # mallory's own range, expected to map
CONTROLS_OK=0
GRANTED=()  # attacks that were granted: what, expected, actual
M_CWD=/     # working directory of mallory's newuidmap/newgidmap

# _map TOOL START COUNT [VAR=VALUE...]: as mallory, TOOL on a fresh user
# namespace of hers with mapping "0 START COUNT"; sets MAP_RC and MAP (output in $W/map.out).
_map() {
	local tool=$1 start=$2 count=$3 file=uid
	shift 3
	[ "$tool" = newgidmap ] && file=gid
	start_userns_sleeper 2002
	MAP_RC=0
	as_user 2002 env -C "$M_CWD" "$@" "$tool" "$SLEEPER_PID" 0 "$start" "$count" >"$W/map.out" 2>&1 || MAP_RC=$?
	MAP=$(read_map "$SLEEPER_PID" "$file")
	stop_sleeper "$SLEEPER_PID"
}

# attack TOOL DESC START COUNT [VAR=VALUE...]: must be refused.
attack() {
	local tool=$1 desc=$2 start=$3 count=$4 file=uid
	shift 4
	[ "$tool" = newgidmap ] && file=gid
	ATTEMPTS=$((ATTEMPTS + 1))
	_map "$tool" "$start" "$count" "$@"
	if [ "$MAP_RC" -ne 0 ] && [ -z "$MAP" ]; then
		REFUSED=$((REFUSED + 1))
		ok "$desc: $tool 0 $start $count refused (exit $MAP_RC, ${file}_map empty)"
	else
		GRANTED+=("$desc: $tool 0 $start $count (env: ${*:-none}; cwd $M_CWD): expected refusal, got exit $MAP_RC and ${file}_map '$MAP'")
		not_ok "$desc: $tool 0 $start $count refused" "exit $MAP_RC (expected non-zero)" \
			"${file}_map: '$MAP' (expected empty)" "env: ${*:-none}; cwd: $M_CWD"
		diag_file "$W/map.out"
	fi
	return 0
}

# control TOOL DESC START COUNT [VAR=VALUE...]: mallory's own range maps.
control() {
	local tool=$1 desc=$2 start=$3 count=$4 file=uid
	shift 4
	[ "$tool" = newgidmap ] && file=gid
	CONTROLS=$((CONTROLS + 1))
	_map "$tool" "$start" "$count" "$@"
	if [ "$MAP_RC" -eq 0 ] && [ "$MAP" = "0 $start $count" ]; then
		CONTROLS_OK=$((CONTROLS_OK + 1))
		ok "$desc: $tool 0 $start $count (mallory's own range) maps"
	else
		not_ok "$desc: $tool 0 $start $count (mallory's own range) maps" "exit $MAP_RC" \
			"${file}_map: '$MAP' (expected '0 $start $count')" "env: ${*:-none}; cwd: $M_CWD"
		diag_file "$W/map.out"
	fi
	return 0
}

# Alice's subuid and subgid range, a range of nobody's, and the control.
attack_set() {
	local desc=$1
	shift
	attack newuidmap "$desc: alice's subuid range" "$A_START" "$A_COUNT" "$@"
	attack newgidmap "$desc: alice's subgid range" "$AG_START" "$AG_COUNT" "$@"
	attack newuidmap "$desc: one id of alice's range" "$((A_START + 7))" 1 "$@"
	attack newuidmap "$desc: a range of mallory's choosing" "$BIG" 65536 "$@"
	control newuidmap "$desc: control" "$B_START" "$B_COUNT" "$@"
}

# fail_closed DESC: the setup must break the plugin: alice's range and
# mallory's own range are refused alike, and the refusal is logged.
fail_closed() {
	local desc=$1
	log_clear
	attack newuidmap "$desc: alice's subuid range" "$A_START" "$A_COUNT"
	attack newgidmap "$desc: alice's subgid range" "$AG_START" "$AG_COUNT"
	attack newuidmap "$desc: fail closed, even mallory's own subuid range" "$B_START" "$B_COUNT"
	attack newgidmap "$desc: fail closed, even mallory's own subgid range" "$BG_START" "$BG_COUNT"
	log_grep '(index|config) (refused|error)' "$desc: the plugin logged why (its config or index refused)"
}

# ---- mallory's material ---------------------------------------------------------------------
# A forged store: a copy of the real one in which mallory's rows cover alice's
# ranges (and her own); alice's rows are gone.  And the forged index: that
# store published by the real writer (subidctl reindex, in a scratch
# directory of root's), a well-formed index that would give mallory alice's
# range to any reader that trusted it.
LO=$((A_START < B_START ? A_START : B_START))
HI=$((A_START + A_COUNT > B_START + B_COUNT ? A_START + A_COUNT : B_START + B_COUNT))
LOG=$((AG_START < BG_START ? AG_START : BG_START))
HIG=$((AG_START + AG_COUNT > BG_START + BG_COUNT ? AG_START + AG_COUNT : BG_START + BG_COUNT))
forge_db() { # forge_db OUT OWNER MODE
	local out=$1
	rm -f "$out"
	mkdir -p "$(dirname "$out")"
	cp "$DB" "$out"
	sqlite3 -batch "$out" "DELETE FROM ranges WHERE uid = 2001;
		UPDATE ranges SET start = $LO, count = $((HI - LO)) WHERE uid = 2002 AND kind = 1;
		UPDATE ranges SET start = $LOG, count = $((HIG - LOG)) WHERE uid = 2002 AND kind = 2;"
	chown "$2" "$out"
	chmod "$3" "$out"
	[ "$(db_query "SELECT start, count FROM ranges WHERE uid = 2002 AND kind = 1;" "$out")" = "$LO $((HI - LO))" ] ||
		hard_error "could not forge $out"
}
FORGE=$W/forge # root's scratch directory: the forged store, published
forge_db "$FORGE/private/subid.db" 0:0 0600
chmod 0700 "$FORGE/private"
printf 'store = local\ndb_path = %s\nfiles = yes\n' "$FORGE/private/subid.db" >"$FORGE/subid.conf"
chmod 0644 "$FORGE/subid.conf"
"$SUBIDCTL" -c "$FORGE/subid.conf" reindex >/dev/null || hard_error "could not publish the forged index"
FORGED_ROWS=$(python3 "$top_srcdir/tests/invariants.py" --dump-index "$FORGE/ranges.idx" | grep -v '^generation')
[ "$FORGED_ROWS" = "2002 $LO $((HI - LO)) $LOG $((HIG - LOG))" ] ||
	hard_error "the forged index does not give mallory alice's range: $FORGED_ROWS"
forge_idx() { # forge_idx OUT OWNER MODE
	rm -f "$1"
	mkdir -p "$(dirname "$1")"
	cp "$FORGE/ranges.idx" "$1"
	chown "$2" "$1"
	chmod "$3" "$1"
}
# good_idx OUT OWNER MODE: a copy of the real index
good_idx() {
	rm -f "$1"
	mkdir -p "$(dirname "$1")"
	cp "$IDX" "$1"
	chown "$2" "$1"
	chmod "$3" "$1"
}

mkdir -p "$M" "$FORGED"
chown 2002:2002 "$M"
chmod 0755 "$M" "$FORGED"
forge_db "$M/forged.db" 2002:2002 0644
forge_idx "$M/forged.idx" 2002:2002 0644
forge_db "$FORGED/private/subid.db" 0:0 0600
chmod 0700 "$FORGED/private"
forge_idx "$FORGED/ranges.idx" 0:0 0644
cat >"$M/subid.conf" <<EOF
store = local
db_path = $M/forged.db
index_path = $M/forged.idx
files = yes
EOF
cat >"$FORGED/subid.conf" <<EOF
store = local
db_path = $FORGED/private/subid.db
files = yes
EOF
chown 2002:2002 "$M/subid.conf"
chmod 0644 "$M/subid.conf" "$FORGED/subid.conf"
mkdir -p "$M/.config/subid"
cp "$M/subid.conf" "$M/.subid.conf"
cp "$M/subid.conf" "$M/.config/subid/subid.conf"
cp "$M/subid.conf" "$M/.config/subid.conf"
# A passwd for nss_wrapper where the name "mallory" resolves to alice's uid
# (getpwuid(2002) still finds the real mallory line, further down).
{
	echo 'mallory:x:2001:2001::/nonexistent:/bin/sh'
	cat /etc/passwd
} >"$M/passwd"
cp /etc/group "$M/group"

# A fake plugin (named like the real one) that claims every range for
# everyone and, preloaded, makes getpwnam_r("mallory") answer alice's uid.
mkdir -p "$M/fake"
cat >"$M/fake/fake.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct range { unsigned long start, count; };

int shadow_subid_has_range(const char *owner, unsigned long start, unsigned long count, int type, bool *result)
{
	(void)owner; (void)start; (void)count; (void)type;
	if (result)
		*result = true;
	return 0;
}

int shadow_subid_list_owner_ranges(const char *owner, int type, struct range **ranges, int *count)
{
	(void)owner; (void)type;
	*ranges = malloc(sizeof(**ranges));
	if (*ranges == NULL)
		return 3;
	(*ranges)->start = 0;
	(*ranges)->count = 4294967295UL;
	*count = 1;
	return 0;
}

int shadow_subid_find_subid_owners(unsigned long id, int type, uid_t **uids, int *count)
{
	(void)id; (void)type;
	*uids = malloc(sizeof(**uids));
	if (*uids == NULL)
		return 3;
	**uids = 2002;
	*count = 1;
	return 0;
}

void shadow_subid_free(void *p) { free(p); }

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res)
{
	int (*next)(const char *, struct passwd *, char *, size_t, struct passwd **);

	if (name != NULL && strcmp(name, "mallory") == 0) {
		if (len < 16) {
			*res = NULL;
			return ERANGE;
		}
		memcpy(buf, "mallory\0x\0\0/\0", 13);
		pw->pw_name = buf;
		pw->pw_passwd = buf + 8;
		pw->pw_gecos = buf + 10;
		pw->pw_dir = buf + 11;
		pw->pw_shell = buf + 10;
		pw->pw_uid = 2001;
		pw->pw_gid = 2001;
		*res = pw;
		return 0;
	}
	next = (int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(RTLD_NEXT, "getpwnam_r");
	return next(name, pw, buf, len, res);
}
EOF
chown -R 2002:2002 "$M"
# mallory builds it herself
check "mallory builds a fake libsubid_subid.so" \
	as_user 2002 env TMPDIR="$M" gcc -shared -fPIC -O2 -o "$M/fake/libsubid_subid.so" "$M/fake/fake.c" -ldl
FAKE=$M/fake/libsubid_subid.so
[ -f "$FAKE" ] || hard_error "fake plugin not built"

# A python3 mallory can run (the one in PATH may live under /root).
M_PY=
for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
	if [ -x "$p" ] && as_user 2002 "$p" -c 'import ctypes' 2>/dev/null; then
		M_PY=$p
		break
	fi
done
[ -n "$M_PY" ] || skip_or_error "no python3 with ctypes that an unprivileged user can run"

# The has_range probe: one case per stdin line "NAME<TAB>OWNER<TAB>START<TAB>
# COUNT<TAB>TYPE<TAB>RESULT" (OWNER a python expression giving bytes or None,
# RESULT ptr|null); each case runs in a forked child, so that a crash is
# reported as such.  Prints "NAME<TAB>status=S result=R" or "NAME<TAB>crash signal=N".
cat >"$W/probe.py" <<'PYEOF'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1])
f = lib.shadow_subid_has_range
f.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_int, ctypes.c_void_p]
f.restype = ctypes.c_int
for line in sys.stdin:
    name, owner, start, count, typ, resp = line.rstrip("\n").split("\t")
    owner = eval(owner)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        res = ctypes.c_ubyte(0xAA)  # poison: the plugin must write it
        st = f(owner, int(start) % 2**64, int(count) % 2**64, int(typ),
               ctypes.byref(res) if resp == "ptr" else None)
        os.write(w, ("status=%d result=%d" % (st, res.value)).encode())
        os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    _, ws = os.waitpid(pid, 0)
    if os.WIFSIGNALED(ws):
        print("%s\tcrash signal=%d" % (name, os.WTERMSIG(ws)), flush=True)
    elif os.WEXITSTATUS(ws) != 0 or not out:
        print("%s\tchild exit=%d" % (name, os.WEXITSTATUS(ws)), flush=True)
    else:
        print("%s\t%s" % (name, out.decode()), flush=True)
PYEOF
chmod 0644 "$W/probe.py"

# probe LIB [VAR=VALUE...] < cases: run the probe as mallory.
# shellcheck disable=SC2317 # called through capture
probe() {
	local lib=$1
	shift
	as_user 2002 env "$@" "$M_PY" "$W/probe.py" "$lib"
}
# preload LIB: LD_PRELOAD with LIB after whatever the harness preloads (libasan).
preload() { printf 'LD_PRELOAD=%s' "${LD_PRELOAD:+$LD_PRELOAD:}$1"; }

# ---- payload controls: the material would work if the plugin honoured it ---------------------
T=$'\t'
capture probe "$FAKE" <<<"fake${T}b'mallory'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
check_eq "payload: the fake plugin claims alice's range for mallory" "fake${T}status=0 result=1" "$C_OUT"
capture probe "$PLUGIN" "$(preload "$FAKE")" <<<"preload${T}b'mallory'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
check_eq "payload: preloaded into a non-setuid process, the fake getpwnam_r makes the real plugin give mallory alice's range" \
	"preload${T}status=0 result=1" "$C_OUT"
if ldconfig -p | grep -q 'libnss_wrapper\.so '; then
	capture probe "$PLUGIN" "$(preload libnss_wrapper.so)" NSS_WRAPPER_PASSWD="$M/passwd" NSS_WRAPPER_GROUP="$M/group" \
		<<<"nssw${T}b'mallory'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
	check_eq "payload: under nss_wrapper (non-setuid) mallory's passwd makes the real plugin give her alice's range" \
		"nssw${T}status=0 result=1" "$C_OUT"
else
	diag "libnss_wrapper.so not installed: its payload control is skipped (the setuid attacks still run)"
fi
conf_db "$FORGED/private/subid.db"
control newuidmap "payload: root's config naming the root-owned forged index (trusted by design) gives mallory alice's range" \
	"$A_START" "$A_COUNT"
conf_db "$DB" "$FORGED/ranges.idx"
control newgidmap "payload: ... also through index_path" "$AG_START" "$AG_COUNT"
conf_db "$DB"
control newuidmap "baseline: real index" "$B_START" "$B_COUNT"
control newgidmap "baseline: real index" "$BG_START" "$BG_COUNT"
attack newuidmap "baseline: real index: alice's subuid range" "$A_START" "$A_COUNT"
# The plugin never reads the writer store: root's config naming a forged
# store, of mallory's or of root's, changes nothing while the index is the real one.
conf_db "$M/forged.db" "$IDX"
attack_set "db_path = mallory's forged store, index_path = the real index"
conf_db "$FORGED/private/subid.db" "$IDX"
attack_set "db_path = a root-owned forged store, index_path = the real index"
conf_db "$DB"

# Outside setuid (getsubids, podman, any libsubid client run by mallory) glibc strips nothing
# and secure_getenv() answers: the plugin must not read its configuration from the environment
# there either.  The root-owned config naming the forged store would be trusted if it did.
NOSUID_ENV=(SUBID_CONF="$FORGED/subid.conf" SUBID_CONF_PATH="$FORGED/subid.conf"
	SUBID_CONFIG="$FORGED/subid.conf" SUBID_CONF_FILE="$FORGED/subid.conf" SUBID_DB="$FORGED/private/subid.db"
	SUBID_DB_PATH="$FORGED/private/subid.db" SUBID_STORE="$FORGED/private/subid.db"
	SUBID_INDEX="$FORGED/ranges.idx" SUBID_INDEX_PATH="$FORGED/ranges.idx" HOME="$M" XDG_CONFIG_HOME="$M/.config")
capture probe "$PLUGIN" "${NOSUID_ENV[@]}" <<<"noenv${T}b'mallory'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
check_eq "not setuid: config, store and index paths in the environment are ignored (mallory has no range)" \
	"noenv${T}status=0 result=0" "$C_OUT"
capture probe "$PLUGIN" "${NOSUID_ENV[@]}" <<<"noenv2${T}b'alice'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
check_eq "not setuid: ... and alice's range is still served from the real index" \
	"noenv2${T}status=0 result=1" "$C_OUT"

# ---- 1. environment set by mallory ---------------------------------------------------------
for var in SUBID_CONF SUBID_CONF_PATH SUBID_CONFIG SUBID_CONF_FILE; do
	attack_set "env $var=mallory's config" "$var=$M/subid.conf"
	attack_set "env $var=a root-owned config naming the forged store" "$var=$FORGED/subid.conf"
done
for var in SUBID_DB SUBID_DB_PATH SUBID_STORE; do
	attack_set "env $var=mallory's forged db" "$var=$M/forged.db"
	attack_set "env $var=the root-owned forged db" "$var=$FORGED/private/subid.db"
done
for var in SUBID_INDEX SUBID_INDEX_PATH; do
	attack_set "env $var=mallory's forged index" "$var=$M/forged.idx"
	attack_set "env $var=the root-owned forged index" "$var=$FORGED/ranges.idx"
done
attack_set "env SQLITE_TMPDIR/TMPDIR=mallory's directory" SQLITE_TMPDIR="$M" TMPDIR="$M"
attack_set "env SQLITE_HISTORY" SQLITE_HISTORY="$M/history"
attack_set "env HOME/XDG_CONFIG_HOME=mallory's directory (with .subid.conf, .config/subid/)" \
	HOME="$M" XDG_CONFIG_HOME="$M/.config"
attack_set "env LANG/LC_ALL=tr_TR.UTF-8" LANG=tr_TR.UTF-8 LC_ALL=tr_TR.UTF-8
attack_set "env LANG/LC_ALL=C" LANG=C LC_ALL=C
attack_set "env LD_LIBRARY_PATH=directory of the fake libsubid_subid.so" LD_LIBRARY_PATH="$M/fake"
attack_set "env LD_PRELOAD=the fake library (getpwnam_r: mallory has alice's uid)" "$(preload "$FAKE")"
attack_set "env NSS_WRAPPER_PASSWD (mallory has alice's uid) + LD_PRELOAD=libnss_wrapper.so" \
	"$(preload libnss_wrapper.so)" NSS_WRAPPER_PASSWD="$M/passwd" NSS_WRAPPER_GROUP="$M/group"
ALL_ENV=(SUBID_CONF="$M/subid.conf" SUBID_CONF_PATH="$M/subid.conf" SUBID_CONFIG="$M/subid.conf"
	SUBID_DB="$M/forged.db" SUBID_DB_PATH="$M/forged.db" SUBID_INDEX="$M/forged.idx" SUBID_INDEX_PATH="$M/forged.idx"
	SQLITE_TMPDIR="$M" SQLITE_HISTORY="$M/history"
	HOME="$M" XDG_CONFIG_HOME="$M/.config" TMPDIR="$M" LANG=tr_TR.UTF-8 LC_ALL=tr_TR.UTF-8
	LD_LIBRARY_PATH="$M/fake" "$(preload "$FAKE")" NSS_WRAPPER_PASSWD="$M/passwd" NSS_WRAPPER_GROUP="$M/group")
attack_set "env: all of the above at once" "${ALL_ENV[@]}"
control newgidmap "env: all of the above at once: control" "$BG_START" "$BG_COUNT" "${ALL_ENV[@]}"

# ---- 2. working directory ----------------------------------------------------------------
CWD=$M/cwd
mkdir -p "$CWD/etc" "$CWD/private" "$CWD/var/lib/subid/private"
cp "$M/forged.db" "$CWD/private/subid.db"
cp "$M/forged.db" "$CWD/subid.db"
cp "$M/forged.db" "$CWD/var/lib/subid/private/subid.db"
cp "$M/forged.idx" "$CWD/ranges.idx"
cp "$M/forged.idx" "$CWD/var/lib/subid/ranges.idx"
sed -e "s|^db_path = .*|db_path = $CWD/private/subid.db|" -e "s|^index_path = .*|index_path = $CWD/ranges.idx|" \
	"$M/subid.conf" >"$CWD/subid.conf"
cp "$CWD/subid.conf" "$CWD/etc/subid.conf"
cp "$FAKE" "$CWD/libsubid_subid.so"
cp "$FAKE" "$CWD/libsubid_files.so"
printf 'passwd: files\ngroup: files\nsubid: subid\n' >"$CWD/nsswitch.conf"
cp "$CWD/nsswitch.conf" "$CWD/etc/nsswitch.conf"
printf 'mallory:%s:%s\n' "$A_START" "$A_COUNT" >"$CWD/subuid"
printf 'mallory:%s:%s\n' "$AG_START" "$AG_COUNT" >"$CWD/subgid"
cp "$CWD/subuid" "$CWD/etc/subuid"
cp "$CWD/subgid" "$CWD/etc/subgid"
chown -R 2002:2002 "$CWD"
M_CWD=$CWD
attack_set "cwd = mallory's directory with subid.conf, ranges.idx, private/subid.db, etc/, var/lib/subid/, nsswitch.conf, libsubid_subid.so"
control newgidmap "cwd = mallory's directory: control" "$BG_START" "$BG_COUNT"
attack_set "cwd = mallory's directory and every hostile variable" "${ALL_ENV[@]}"
M_CWD=/

# ---- 3. unsafe /etc/subid.conf (misconfigured host): fail closed -----------------------------
# mallory's config names the root-owned forged index: nothing but the config
# checks stands between her and alice's range (see the payload control).
sed -e "s|^db_path = .*|db_path = $FORGED/private/subid.db|" -e "s|^index_path = .*|index_path = $FORGED/ranges.idx|" \
	"$M/subid.conf" >"$M/evil.conf"
chown 2002:2002 "$M/evil.conf"
chmod 0644 "$M/evil.conf"
rm -f "$SUBID_CONF_PATH"
ln -s "$M/evil.conf" "$SUBID_CONF_PATH"
fail_closed "$SUBID_CONF_PATH is a symlink to mallory's config"
rm -f "$SUBID_CONF_PATH"
cp "$M/evil.conf" "$SUBID_CONF_PATH"
chown 2002:2002 "$SUBID_CONF_PATH"
chmod 0644 "$SUBID_CONF_PATH"
fail_closed "$SUBID_CONF_PATH owned by mallory"
chown 0:0 "$SUBID_CONF_PATH"
chmod 0666 "$SUBID_CONF_PATH"
fail_closed "$SUBID_CONF_PATH mode 0666 with mallory's content"
chown 0:2002 "$SUBID_CONF_PATH"
chmod 0664 "$SUBID_CONF_PATH"
fail_closed "$SUBID_CONF_PATH mode 0664, group mallory, with mallory's content"
conf_db "$DB"
control newuidmap "$SUBID_CONF_PATH safe again" "$B_START" "$B_COUNT"

# ---- 4. unsafe index (misconfigured host): fail closed --------------------------------------
# index_case DIR DIROWNER DIRMODE IDXOWNER IDXMODE DESC: db_path =
# DIR/private/subid.db, so the index is DIR/ranges.idx: mallory's forged one.
index_case() {
	local d=$1
	rm -rf "$d"
	mkdir -p "$d"
	chown "$2" "$d"
	chmod "$3" "$d"
	forge_idx "$d/ranges.idx" "$4" "$5"
	conf_db "$d/private/subid.db"
	fail_closed "$6"
}
index_case "$W/s4a" 0:0 0755 2002:2002 0644 "forged index owned by mallory (root-owned 0755 directory)"
index_case "$W/s4b" 0:0 0755 0:0 0666 "forged index root-owned, mode 0666"
index_case "$W/s4c" 0:0 0755 0:2002 0664 "forged index root-owned, mode 0664, group mallory"
index_case "$W/s4d" 2002:2002 0755 0:0 0644 "index directory owned by mallory"
index_case "$W/s4e" 0:0 0777 0:0 0644 "index directory mode 0777"
index_case "$W/s4e2" 0:2002 0775 0:0 0644 "index directory mode 0775, group mallory"
# a sticky directory (like /tmp): nobody but root can rename or remove root's
# index there, so the real one is served; but where there is none yet,
# mallory can put her own, which must be refused
rm -rf "$W/s4f"
mkdir -p "$W/s4f"
chmod 1777 "$W/s4f"
good_idx "$W/s4f/ranges.idx" 0:0 0644
conf_db "$W/s4f/private/subid.db"
attack_set "index directory mode 1777 (like /tmp), the real index in it"
check_fail "mallory cannot replace root's index in the sticky directory" as_user 2002 mv -f "$M/forged.idx" "$W/s4f/ranges.idx"
check_fail "mallory cannot remove root's index in the sticky directory" as_user 2002 rm -f "$W/s4f/ranges.idx"
rm -f "$W/s4f/ranges.idx"
check "mallory can create her own ranges.idx in the sticky directory" as_user 2002 cp "$M/forged.idx" "$W/s4f/ranges.idx"
fail_closed "index directory mode 1777, mallory's forged index planted in it"
rm -rf "$W/s4g"
mkdir -p "$W/s4g"
chmod 0755 "$W/s4g"
ln -s "$M/forged.idx" "$W/s4g/ranges.idx"
conf_db "$W/s4g/private/subid.db"
fail_closed "index is a symlink to mallory's forged index"
rm -f "$W/s4g/ranges.idx"
ln -s "$FORGED/ranges.idx" "$W/s4g/ranges.idx"
fail_closed "index is a symlink to a root-owned index (symlinks are refused, whoever owns the target)"
rm -rf "$M/h"
mkdir -p "$M/h"
forge_idx "$M/h/ranges.idx" 2002:2002 0644
chown 2002:2002 "$M/h"
ln -s "$M/h" "$W/s4h"
conf_db "$W/s4h/private/subid.db"
fail_closed "index directory is a symlink to mallory's directory"
# index_path in root's own config pointing into mallory's territory
conf_db "$DB" "$M/forged.idx"
fail_closed "index_path = mallory's forged index in her directory"
good_idx "$M/copy.idx" 0:0 0644
conf_db "$DB" "$M/copy.idx"
fail_closed "index_path = a root-owned copy of the real index in mallory's directory"
mkdir -p "$M/rootsub"
good_idx "$M/rootsub/ranges.idx" 0:0 0644
chown 0:0 "$M/rootsub"
chmod 0755 "$M/rootsub"
conf_db "$DB" "$M/rootsub/ranges.idx"
fail_closed "index_path = a root-owned index in a root-owned directory under mallory's"
conf_db "$DB"
control newuidmap "index safe again" "$B_START" "$B_COUNT"

# ---- 5. swapping the index -----------------------------------------------------------------
D=$(dirname "$IDX")
SUM=$(sha256sum <"$IDX")
DBSUM=$(sha256sum <"$DB")
check_fail "mallory cannot mv her forged index over the index" as_user 2002 mv -f "$M/forged.idx" "$IDX"
check_match "... permission denied" 'Permission denied' "$(cat "$T_OUT")"
check_fail "mallory cannot ln -sf her forged index over the index" as_user 2002 ln -sf "$M/forged.idx" "$IDX"
check_match "... permission denied" 'Permission denied' "$(cat "$T_OUT")"
check_fail "mallory cannot write into the index" as_user 2002 cp "$M/forged.idx" "$IDX"
check_fail "mallory cannot remove the index" as_user 2002 rm -f "$IDX"
check_fail "mallory cannot create a file in the index directory (a writer's temporary name)" \
	as_user 2002 touch "$D/.ranges.idx.AAAAAA"
check_fail "mallory cannot look into the store's directory" as_user 2002 ls "$(dirname "$DB")"
check_fail "mallory cannot open the store" as_user 2002 cat "$DB"
check_fail "mallory cannot create a file in the store's directory" as_user 2002 touch "$DB-journal"
check_true "mallory's forged index is still hers" -f "$M/forged.idx"

# mallory swaps in a loop while she runs 200 newuidmap attempts for alice's range.
start_userns_sleeper 2002
cat >"$W/mallory_race.sh" <<'EOF'
pid=$1 start=$2 count=$3 forged=$4 idx=$5 n=$6
( s=0; while :; do
	mv -f "$forged" "$idx" 2>/dev/null && s=$((s + 1))
	ln -sf "$forged" "$idx" 2>/dev/null && s=$((s + 1))
	cp "$forged" "$idx" 2>/dev/null && s=$((s + 1))
	echo "$s" >"$forged.swaps"
done ) &
sw=$!
a=0 g=0
while [ "$a" -lt "$n" ]; do
	a=$((a + 1))
	if newuidmap "$pid" 0 "$start" "$count" 2>/dev/null; then g=$((g + 1)); break; fi
done
kill "$sw"; wait "$sw" 2>/dev/null
echo "attempts=$a granted=$g swaps=$(cat "$forged.swaps" 2>/dev/null || echo 0)"
EOF
capture as_user 2002 bash "$W/mallory_race.sh" "$SLEEPER_PID" "$A_START" "$A_COUNT" "$M/forged.idx" "$IDX" 200
RACE_M=$C_OUT
check_match "mallory swapping herself: 200 attempts, none granted, no swap succeeded" '^attempts=200 granted=0 swaps=0$' "$RACE_M"
check_eq "... and the namespace's uid_map is still empty" "" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"
check_eq "... and the index is unchanged" "$SUM" "$(sha256sum <"$IDX")"
check_eq "... and so is the store" "$DBSUM" "$(sha256sum <"$DB")"
ATTEMPTS=$((ATTEMPTS + 200))
[[ $RACE_M =~ granted=0 ]] && REFUSED=$((REFUSED + 200))

# root swaps (simulating a race the plugin must survive): DIR/ranges.idx
# alternates, by atomic renames, between a copy of the good index and a
# forged one owned by mallory.
R=$W/race
mkdir -p "$R"
chmod 0755 "$R"
good_idx "$R/good.idx" 0:0 0644
forge_idx "$R/forged.idx" 2002:2002 0644
cp -p "$R/good.idx" "$R/ranges.idx"
conf_db "$R/private/subid.db"
cat >"$W/swapper.py" <<'PYEOF'
import os, sys, time
path, good, forged, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
tmp = path + ".swap"
n = 0
print("swapping", flush=True)
end = time.monotonic() + secs
while time.monotonic() < end:
    for src in (forged, good):  # like "ln SRC TMP; mv -f TMP PATH"
        os.link(src, tmp)
        os.rename(tmp, path)
        n += 1
print("swaps=%d" % n, flush=True)
PYEOF
# swap SECONDS [CMD...]: start a swapper (default: root's, above), return
# once it runs; swap_wait waits for it and sets SWAPS.
SWAP_PID=
swap() {
	local secs=$1
	shift
	[ $# -gt 0 ] || set -- python3 "$W/swapper.py" "$R/ranges.idx" "$R/good.idx" "$R/forged.idx"
	: >"$W/swap.out"
	"$@" "$secs" >"$W/swap.out" 2>&1 &
	SWAP_PID=$!
	bg_track "$SWAP_PID"
	wait_ready "$SWAP_PID" "$W/swap.out" swapping "swapper did not start"
}
swap_wait() {
	wait "$SWAP_PID" || hard_error "swapper failed: $(cat "$W/swap.out")"
	SWAPS=$(sed -n 's/^swaps=//p' "$W/swap.out")
}

cat >"$W/root_race.sh" <<'EOF'
# as mallory: newuidmap of alice's range for SECS seconds on user namespaces
# of hers, a fresh one after every grant.  Prints attempts, grants, first map.
start=$1 count=$2 secs=$3
myns=$(readlink /proc/self/ns/user)
sp=
new_sleeper() {
	unshare -U sleep 30 &
	sp=$!
	while [ "$(cat "/proc/$sp/comm" 2>/dev/null)" != sleep ] ||
		[ "$(readlink "/proc/$sp/ns/user" 2>/dev/null)" = "$myns" ]; do
		kill -0 "$sp" 2>/dev/null || exit 99
		sleep 0.005
	done
}
new_sleeper
end=$((${EPOCHREALTIME/./} + secs * 1000000))
a=0 g=0 first=
while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
	a=$((a + 1))
	if newuidmap "$sp" 0 "$start" "$count" 2>/dev/null; then
		g=$((g + 1))
		[ -n "$first" ] || first=$(awk '{print $1 "," $2 "," $3}' "/proc/$sp/uid_map")
		kill "$sp"
		wait "$sp" 2>/dev/null
		new_sleeper
	fi
done
kill "$sp"
wait "$sp" 2>/dev/null
echo "attempts=$a granted=$g${first:+ first_uid_map=$first}"
EOF
swap 3.5
capture as_user 2002 bash "$W/root_race.sh" "$A_START" "$A_COUNT" 3
RACE_R=$C_OUT
swap_wait
RACE_R_N=$(sed -n 's/^attempts=\([0-9]*\) .*/\1/p' <<<"$RACE_R")
check_true "index swapped by root: the swapper ran ($SWAPS renames)" "${SWAPS:-0}" -gt 100
check_true "index swapped by root: mallory made attempts (${RACE_R_N:-0})" "${RACE_R_N:-0}" -gt 10
check_match "index swapped by root between the good and a mallory-owned forged index for 3 s: no newuidmap of alice's range granted ($RACE_R)" \
	'granted=0$' "$RACE_R"
ATTEMPTS=$((ATTEMPTS + ${RACE_R_N:-0}))
RACE_R_G=$(sed -n 's/.* granted=\([0-9]*\).*/\1/p' <<<"$RACE_R")
REFUSED=$((REFUSED + ${RACE_R_N:-0} - ${RACE_R_G:-0}))
if [ "${RACE_R_G:-0}" != 0 ]; then
	GRANTED+=("root-side index swap race: newuidmap PID 0 $A_START $A_COUNT as mallory: expected every attempt refused, got $RACE_R")
fi

# The same race in-process (many more calls): has_range("mallory", alice's range).
cat >"$W/race_probe.py" <<'PYEOF'
import ctypes, sys, time
lib = ctypes.CDLL(sys.argv[1])
f = lib.shadow_subid_has_range
f.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_int, ctypes.POINTER(ctypes.c_bool)]
f.restype = ctypes.c_int
start, count, secs = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
n = t = ok = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    r = ctypes.c_bool(False)
    st = f(b"mallory", start, count, 1, ctypes.byref(r))
    n += 1
    t += bool(r.value)
    ok += st == 0
print("calls=%d true=%d success=%d" % (n, t, ok))
PYEOF
chmod 0644 "$W/race_probe.py"
swap 3.5
capture as_user 2002 "$M_PY" "$W/race_probe.py" "$PLUGIN" "$A_START" "$A_COUNT" 3
RACE_P=$C_OUT
swap_wait
RACE_P_N=$(sed -n 's/^calls=\([0-9]*\) .*/\1/p' <<<"$RACE_P")
check_true "in-process race: calls made (${RACE_P_N:-0}), swapper ran ($SWAPS renames)" "${RACE_P_N:-0}" -gt 100 -a "${SWAPS:-0}" -gt 100
check_match "in-process race: has_range(mallory, alice's range) never true ($RACE_P)" '^calls=[0-9]+ true=0 ' "$RACE_P"
if ! [[ $RACE_P =~ true=0 ]]; then
	GRANTED+=("root-side index swap race, in-process: has_range(\"mallory\", $A_START, $A_COUNT, uid): expected false, got $RACE_P")
fi
# control: with the good index in place again, mallory's own range maps
rm -f "$R/ranges.idx"
cp -p "$R/good.idx" "$R/ranges.idx"
control newuidmap "race directory, good index in place" "$B_START" "$B_COUNT"

# mallory alone: the index's own directory is root-owned 0755, but an
# ancestor is hers (a misconfigured host).  She exchanges, atomically
# (renameat2 RENAME_EXCHANGE), the index directory with one of her own holding
# her forged index, while she runs newuidmap for alice's range.
A2=$W/m2
mkdir -p "$A2/store" "$A2/evil"
chmod 0755 "$A2" "$A2/store" "$A2/evil"
good_idx "$A2/store/ranges.idx" 0:0 0644
forge_idx "$A2/evil/ranges.idx" 2002:2002 0644
chown 2002:2002 "$A2" "$A2/evil"
conf_db "$A2/store/private/subid.db"
# every directory above the index is checked too: this layout is refused
fail_closed "index under a mallory-owned ancestor ($A2), no swapping"
cat >"$W/exchanger.py" <<'PYEOF'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, secs = sys.argv[1].encode(), sys.argv[2].encode(), float(sys.argv[3])
AT_FDCWD, RENAME_EXCHANGE = -100, 2
def xchg():
    if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        sys.exit("renameat2: " + os.strerror(e))
n = 0
print("swapping", flush=True)
end = time.monotonic() + secs
while time.monotonic() < end:
    xchg()
    n += 1
if n % 2:
    xchg()
    n += 1
print("swaps=%d" % n, flush=True)
PYEOF
chmod 0644 "$W/exchanger.py"
swap 3.5 as_user 2002 "$M_PY" "$W/exchanger.py" "$A2/store" "$A2/evil"
capture as_user 2002 bash "$W/root_race.sh" "$A_START" "$A_COUNT" 3
RACE_A=$C_OUT
swap_wait
RACE_A_N=$(sed -n 's/^attempts=\([0-9]*\) .*/\1/p' <<<"$RACE_A")
RACE_A_G=$(sed -n 's/.* granted=\([0-9]*\).*/\1/p' <<<"$RACE_A")
check_true "mallory exchanging the index directory: her swapper ran ($SWAPS exchanges)" "${SWAPS:-0}" -gt 100
check_true "mallory exchanging the index directory: attempts made (${RACE_A_N:-0})" "${RACE_A_N:-0}" -gt 10
check_match "mallory exchanging the index directory under her ancestor for 3 s: no newuidmap of alice's range granted ($RACE_A)" \
	'granted=0$' "$RACE_A"
ATTEMPTS=$((ATTEMPTS + ${RACE_A_N:-0}))
REFUSED=$((REFUSED + ${RACE_A_N:-0} - ${RACE_A_G:-0}))
if [ "${RACE_A_G:-0}" != 0 ]; then
	GRANTED+=("mallory-only race, index directory under a mallory-owned ancestor exchanged with hers: newuidmap PID 0 $A_START $A_COUNT: expected every attempt refused, got $RACE_A")
fi
check_eq "... the index directory is back in place" "0" "$(stat -c %u "$A2/store")"
conf_db "$DB"

# ---- 6. hostile has_range arguments, in-process as mallory -----------------------------------
ULMAX=18446744073709551615           # 2^64 - 1, the largest unsigned long
WRAP=$(printf %u "$((-A_START))") # 2^64 - A_START: A_START + WRAP wraps to 0
L32=4294967296
cases() {
	local n o s c t r
	while IFS='|' read -r n o s c t r; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$o" "$s" "$c" "$t" "${r:-ptr}"
	done
}
# NAME|OWNER (python bytes)|START|COUNT|TYPE|RESULT-POINTER ; expectation in EXPECT below
PROBE_CASES=$(cases <<EOF
ctl-alice|b'alice'|$A_START|$A_COUNT|1
ctl-alice-uid|b'2001'|$A_START|$A_COUNT|1
ctl-alice-gid|b'alice'|$AG_START|$AG_COUNT|2
ctl-mallory|b'mallory'|$B_START|$B_COUNT|1
mallory-alice|b'mallory'|$A_START|$A_COUNT|1
mallory-alice-1|b'mallory'|$((A_START + 7))|1|1
mallory-alice-gid|b'mallory'|$AG_START|$AG_COUNT|2
mallory-big|b'mallory'|$BIG|65536|1
mallory-own-plus1|b'mallory'|$B_START|$((B_COUNT + 1))|1
mallory-own-minus1|b'mallory'|$((B_START - 1))|2|1
uid2002-alice|b'2002'|$A_START|$A_COUNT|1
nl|b'alice\\n'|$A_START|$A_COUNT|1
colon|b'alice:'|$A_START|$A_COUNT|1
lead-space|b' alice'|$A_START|$A_COUNT|1
trail-space|b'alice '|$A_START|$A_COUNT|1
tab|b'alice\\t'|$A_START|$A_COUNT|1
upper|b'ALICE'|$A_START|$A_COUNT|1
passwd-line|b'alice:x:2001:2001::/:/bin/sh'|$A_START|$A_COUNT|1
mallory-nl-alice|b'mallory\\nalice'|$A_START|$A_COUNT|1
mallory-colon-alice|b'mallory:alice'|$A_START|$A_COUNT|1
comma|b'mallory,alice'|$A_START|$A_COUNT|1
path|b'../alice'|$A_START|$A_COUNT|1
glob|b'*'|$A_START|$A_COUNT|1
percent|b'%'|$A_START|$A_COUNT|1
sql|b"alice' OR '1'='1"|$A_START|$A_COUNT|1
sql2|b"mallory' OR uid=2001 --"|$A_START|$A_COUNT|1
uid-nl|b'2001\\n'|$A_START|$A_COUNT|1
uid-space|b' 2001'|$A_START|$A_COUNT|1
uid-plus|b'+2001'|$A_START|$A_COUNT|1
uid-neg|b'-2001'|$A_START|$A_COUNT|1
uid-hex|b'0x7d1'|$A_START|$A_COUNT|1
uid-float|b'2001.0'|$A_START|$A_COUNT|1
uid-wrap32|b'$((L32 + 2001))'|$A_START|$A_COUNT|1
uid-wrap64|b'18446744073709553617'|$A_START|$A_COUNT|1
uid-max|b'4294967295'|$A_START|$A_COUNT|1
empty|b''|$A_START|$A_COUNT|1
null-owner|None|$A_START|$A_COUNT|1
long-256|b'a'*256|$A_START|$A_COUNT|1
long-5000|b'alice'+b'a'*5000|$A_START|$A_COUNT|1
long-1M|b'A'*1000000|$A_START|$A_COUNT|1
high-bytes|bytes(range(1,256))|$A_START|$A_COUNT|1
ovf-top|b'alice'|$ULMAX|2|1
ovf-wrap|b'alice'|$A_START|$WRAP|1
ovf-max|b'alice'|$A_START|$ULMAX|1
ovf-32|b'alice'|$((L32 - 1))|2|1
trunc-start|b'alice'|$((A_START + L32))|1|1
trunc-start-all|b'alice'|$((A_START + L32))|$A_COUNT|1
trunc-mallory|b'mallory'|$((B_START + L32))|1|1
trunc-count|b'alice'|$A_START|$((L32 + 1))|1
count0|b'alice'|$A_START|0|1
straddle-end|b'alice'|$((A_START + A_COUNT - 1))|2|1
type0|b'alice'|$A_START|1|0
type3|b'alice'|$A_START|1|3
type-neg|b'alice'|$A_START|1|-1
type257|b'alice'|$A_START|1|257
result-null|b'alice'|$A_START|1|1|null
EOF
)
capture probe "$PLUGIN" <<<"$PROBE_CASES"
PROBE_OUT=$C_OUT
check_eq "has_range probe ran to the end (exit 0)" 0 "$C_RC"
[ -z "$C_ERR" ] || diag "probe stderr: $(head -c 500 <<<"$C_ERR")"
PROBES=0
PROBES_OK=0
while IFS=$'\t' read -r n o s c t r; do
	PROBES=$((PROBES + 1))
	got=$(awk -F'\t' -v n="$n" '$1 == n {print $2}' <<<"$PROBE_OUT")
	case $n in
	ctl-*) want="status=0 result=1" ;;
	result-null | null-owner | type*) want="status=3" ;;
	*) want="result=0" ;;
	esac
	shown=$(printf '%.60s' "$o")
	if [ "$want" = "status=3" ]; then
		# an error, and with a result pointer: false
		if [[ $got =~ ^status=3\ result=(0|170)$ ]] && { [ "$r" = null ] || [ "$got" = "status=3 result=0" ]; }; then
			PROBES_OK=$((PROBES_OK + 1))
			ok "has_range($shown, $s, $c, type $t, result $r): error, no grant ($got)"
		else
			not_ok "has_range($shown, $s, $c, type $t, result $r): error, no grant" "expected: status=3 (result 0)" "actual: '$got'"
			GRANTED+=("has_range($shown, $s, $c, type $t, result $r) as mallory: expected status=3, result false; got '$got'")
		fi
	elif [[ $want = status=0* ]]; then
		check_eq "control: has_range($shown, $s, $c, type $t)" "$want" "$got"
	elif [[ $got =~ ^status=[0-3]\ result=0$ ]]; then
		PROBES_OK=$((PROBES_OK + 1))
		ok "has_range($shown, $s, $c, type $t): false ($got)"
	else
		not_ok "has_range($shown, $s, $c, type $t): false, no crash" "expected: result=0" "actual: '$got'"
		GRANTED+=("has_range($shown, $s, $c, type $t) as mallory: expected result false; got '$got'")
	fi
done <<<"$PROBE_CASES"
check_nomatch "no has_range call crashed" 'crash|child exit' "$PROBE_OUT"
# informational: a zero-padded decimal uid
capture probe "$PLUGIN" <<<"padded${T}b'02001'${T}$A_START${T}$A_COUNT${T}1${T}ptr"
diag "info: has_range(\"02001\", alice's range) -> ${C_OUT#padded$'\t'} (a zero-padded decimal uid; shadow never passes one)"

# ---- summary ----------------------------------------------------------------------------
diag "summary: $ATTEMPTS attack attempts through setuid newuidmap/newgidmap as mallory, $REFUSED refused"
diag "         (${RACE_R_N:-0} in the root-side swap race, ${RACE_A_N:-0} while mallory exchanged the index directory under her ancestor, 200 while she tried to swap the index itself)"
diag "         $CONTROLS control mappings of mallory's own range (or the trusted payload), $CONTROLS_OK mapped"
diag "         in-process race: $RACE_P"
diag "         has_range probe: $PROBES calls, $PROBES_OK hostile calls answered false/error, 4 controls"
check_eq "every attack attempt through the setuid tools was refused" "$ATTEMPTS" "$REFUSED"
check_eq "every control mapped" "$CONTROLS" "$CONTROLS_OK"
if [ "${#GRANTED[@]}" -gt 0 ]; then
	diag "GRANTED (must not be):"
	for g in "${GRANTED[@]}"; do diag "  $g"; done
fi
check_eq "nothing granted that must not be" 0 "${#GRANTED[@]}"
conf_db "$DB"
check "the real store and index survived the attacks: invariants hold, the index lists exactly the store's owners" \
	python3 "$top_srcdir/tests/invariants.py" --any-pool --db "$DB" --index "$IDX"
check_eq "... and are unchanged" "$SUM $DBSUM" "$(sha256sum <"$IDX") $(sha256sum <"$DB")"

finish
