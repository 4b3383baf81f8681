#!/bin/bash
# The read path (issue 10): readers use only the published index, the
# writer store is root's alone.  As root in a private mount namespace,
# through the real PAM stack (pamtester; an optional and a strict service),
# shadow's loader (getsubids, libsubid through ctypes; enable_plugin) and the
# setuid newuidmap:
#   a. layout after a first login: private dir 0700, store 0600, lock 0600,
#      index 0644, all root's;
#   b. a user holding every lock it can take on every file under the state
#      directory (POSIX, OFD, flock; the SQLite lock bytes) delays no first
#      login, optional or strict (< 1 s each); the user cannot open the store;
#   c. readers (getsubids, a later login) load neither libsqlite3 nor libldap;
#      a first login does load libsqlite3;
#   d. a store of the old layout (0644, beside the index) is moved into
#      private/ by the first writer, or by subidctl reindex, and its owners
#      are served from then on;
#   e. a writer that stopped between its commit and its publish: the index
#      lags until the next writer republishes it first; a released range is
#      handed out again only after the index stopped listing it;
#   f. 200 first logins in parallel streams under random SIGKILLs: after one
#      more writer, the plugin serves exactly what the store holds;
#   g. a hostile index (modes, owner, symlink, truncation, a flipped byte,
#      wrong version/magic/size, a user-writable parent) is refused: nothing
#      served, newuidmap refuses, nothing crashes, "index refused" logged;
#   h. subidctl list by an unprivileged user lists the index's owners.
# Uids 17000-17999 only.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv ldconfig
subid_require_build
subid_enter_ns "$@"

C=65536
STATE=$W/state
DB=$STATE/private/subid.db
IDX=$STATE/ranges.idx
CONF=$SUBID_CONF_PATH
# pyenv shims are not reachable by other users: the interpreter itself
PY=$(python3 -c 'import sys; print(sys.executable)')

for u in $(seq 17000 17999); do
	if getent passwd "$u" >/dev/null; then hard_error "uid $u already exists on this host"; fi
done
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c 'pass' 2>/dev/null ||
	hard_error "$PY cannot be run by an unprivileged user"

# conf DB_PATH: /etc/subid.conf (the plugin reads only that one)
conf() {
	write_conf <<EOF
db_path = $1
files = yes
EOF
}

# mode_of PATH: "MODE UID GID" (octal mode without type)
mode_of() { stat -c '%a %u %g' "$1" 2>/dev/null || echo missing; }

# start_of UID KIND [DB]: the stored start of UID's range (empty when none)
start_of() { db_query "SELECT start FROM ranges WHERE uid = $1 AND kind = $2;" "${3:-$DB}" | head -n 1; }

# subids_as UID OWNER [-g]: stdout of getsubids run as UID (never fails);
# its exit status in SUBIDS_RC
SUBIDS_RC=0
subids_as() {
	local uid=$1
	shift
	SUBIDS_RC=0
	as_user "$uid" getsubids "$@" 2>"$W/getsubids.err" || SUBIDS_RC=$?
}

login() { pamtester "$1" "$2" open_session close_session; }

# ---- the index, read independently of the C code (common/subid_index.h) ----
cat >"$W/idx.py" <<'PYEOF'
import os, struct, sys, time

HDR = struct.Struct("=8sIIQQQQQII")    # 64
OWN = struct.Struct("=IIIIQQQQ")       # 48
SPAN = struct.Struct("=QQII")          # 24
SEED = 2166136261

def fnv(h, b):
    for c in b:
        h ^= c
        h = (h * 16777619) & 0xffffffff
    return h

def parse(data):
    """{uid: (us, uc, gs, gc)}, generation; ValueError when malformed."""
    if len(data) < 64:
        raise ValueError("short header")
    magic, ver, bom, gen, n, nu, ng, size, res, hc = HDR.unpack_from(data, 0)
    if magic != b"SUBIDIX\0" or ver != 1 or bom != 0x01020304 or res != 0:
        raise ValueError("magic/version/bom")
    if hc != fnv(SEED, data[:60]):
        raise ValueError("header checksum")
    if size != len(data) or size != 64 + 48 * n + 24 * (nu + ng):
        raise ValueError("size")
    owners, prev = {}, None
    for i in range(n):
        uid, chk, nh, r, us, uc, gs, gc = OWN.unpack_from(data, 64 + 48 * i)
        if chk != fnv(SEED, struct.pack("=7Q", uid, nh, r, us, uc, gs, gc)):
            raise ValueError("owner %d checksum" % i)
        if prev is not None and uid <= prev:
            raise ValueError("owners out of order")
        prev = uid
        owners[uid] = (us, uc, gs, gc)
    off = 64 + 48 * n
    spans = {1: [], 2: []}
    for kind, cnt in ((1, nu), (2, ng)):
        for i in range(cnt):
            s, c, uid, chk = SPAN.unpack_from(data, off)
            off += 24
            if chk != fnv(SEED ^ 0x5a5a5a5a, struct.pack("=4Q", s, c, uid, kind)):
                raise ValueError("span checksum")
            spans[kind].append((s, c, uid))
    for kind in (1, 2):
        want = sorted((o[0], o[1], u) if kind == 1 else (o[2], o[3], u)
                      for u, o in owners.items() if (o[1] if kind == 1 else o[3]))
        if sorted(spans[kind]) != want:
            raise ValueError("spans do not match the owners (kind %d)" % kind)
    return owners, gen

def shared(owners):
    """Ranges listed for two owners (any overlap within a kind)."""
    bad = []
    for kind in (1, 2):
        v = sorted((o[0], o[0] + o[1], u) if kind == 1 else (o[2], o[2] + o[3], u)
                   for u, o in owners.items() if (o[1] if kind == 1 else o[3]))
        for a, b in zip(v, v[1:]):
            if b[0] < a[1]:
                bad.append("kind %d: uid %d [%d,%d) and uid %d [%d,%d)" % (kind, a[2], a[0], a[1], b[2], b[0], b[1]))
    return bad

def rewrite_header(path, **kw):
    data = bytearray(open(path, "rb").read())
    f = list(HDR.unpack_from(data, 0))
    names = ["magic", "version", "bom", "generation", "n", "nu", "ng", "size", "reserved", "hcheck"]
    for k, v in kw.items():
        f[names.index(k)] = v
    HDR.pack_into(data, 0, *f)
    struct.pack_into("=I", data, 60, fnv(SEED, bytes(data[:60])))
    open(path, "r+b").write(data)

cmd, path = sys.argv[1], sys.argv[2]
if cmd == "dump":
    # "UID US UC GS GC" per owner; "generation G" first
    try:
        owners, gen = parse(open(path, "rb").read())
    except (OSError, ValueError) as e:
        print("malformed: %s" % e)
        sys.exit(3)
    print("generation %d" % gen)
    for u in sorted(owners):
        print(u, *owners[u])
    bad = shared(owners)
    for b in bad:
        print("shared: " + b)
    sys.exit(1 if bad else 0)
elif cmd == "poll":
    # read the index until STOP exists: per snapshot, no range listed for two owners
    stop, a, b = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    seen, states, last = 0, [], None
    print("polling", flush=True)
    while True:
        done = os.path.exists(stop)
        try:
            data = open(path, "rb").read()
        except FileNotFoundError:
            data = None
        if data is not None:
            try:
                owners, gen = parse(data)
            except ValueError as e:
                print("malformed snapshot: %s" % e, flush=True)
                sys.exit(1)
            seen += 1
            for x in shared(owners):
                print("shared: generation %d %s" % (gen, x), flush=True)
            st = (gen, a in owners, b in owners)
            if st != last:
                states.append("gen=%d A=%s B=%s" % st)
                last = st
        if done:
            break
    print("snapshots %d states %s" % (seen, " | ".join(states)), flush=True)
elif cmd == "version":
    rewrite_header(path, version=int(sys.argv[3]))
elif cmd == "magic":
    rewrite_header(path, magic=b"SUBIDIY\0")
elif cmd == "grow":
    # one byte more than the header says, the header still consistent in itself
    open(path, "ab").write(b"\0")
elif cmd == "flip":
    # one byte of UID's subuid start in its owner record
    data = bytearray(open(path, "rb").read())
    magic, ver, bom, gen, n = HDR.unpack_from(data, 0)[:5]
    for i in range(n):
        if OWN.unpack_from(data, 64 + 48 * i)[0] == int(sys.argv[3]):
            data[64 + 48 * i + 17] ^= 0x01
            open(path, "r+b").write(data)
            sys.exit(0)
    sys.exit("uid not in the index")
PYEOF
idx() { "$PY" "$W/idx.py" "$@"; }

# owners_of_index: "UID US UC GS GC" lines of the published index
index_rows() { idx dump "$IDX" | grep -v '^generation' || true; }

# store_rows [DB]: the same lines from the store (owners with both kinds)
store_rows() {
	db_query "SELECT u.uid, u.start, u.count, g.start, g.count FROM ranges u JOIN ranges g
		ON g.uid = u.uid AND g.kind = 2 WHERE u.kind = 1 ORDER BY u.uid;" "${1:-$DB}"
}

: >/etc/subuid
: >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid
conf "$DB"
pam_service subid-opt "optional $PAM_MODULE" "required pam_permit.so"
pam_service subid-strict "required $PAM_MODULE strict" "required pam_permit.so"
enable_plugin

# ---- a. layout -----------------------------------------------------------------------------
diag "a: layout after a first login"
add_user ra 17001
check "a: ra's first login succeeds" login subid-opt ra
check_eq "a: $STATE/private is 0700 root" "700 0 0" "$(mode_of "$STATE/private")"
check_eq "a: the store is 0600 root" "600 0 0" "$(mode_of "$DB")"
check_eq "a: the lock file is 0600 root" "600 0 0" "$(mode_of "$DB.lock")"
check_eq "a: the index is 0644 root" "644 0 0" "$(mode_of "$IDX")"
check_eq "a: $STATE is 0755 root" "755 0 0" "$(mode_of "$STATE")"
check_eq "a: no store of the old layout beside the index" missing "$(mode_of "$STATE/subid.db")"
RA=$(start_of 17001 1)
subids_as 17001 ra >"$W/o"
check_eq "a: getsubids ra (as ra) serves the stored range" "0: ra ${RA:-none} $C" "$(cat "$W/o")"
check_eq "a: the index lists ra as the store does" "$(store_rows)" "$(index_rows)"

# ---- b. an unprivileged user holding every lock it can take --------------------------------
diag "b: a user holds every lock it can take under $STATE"
add_user rb_hold 17010
add_user rb_new 17011
add_user rb_strict 17012
cat >"$W/holder.py" <<'PYEOF'
import errno, fcntl, os, struct, sys, time
root, extra = sys.argv[1], sys.argv[2:]
SQLITE_LOCK = 0x40000000   # PENDING, RESERVED, then the 510 SHARED bytes
fds, held, refused = [], [], []

def ofd(fd, start, length):
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("@hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, start, length, 0))

def take(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        refused.append("%s open: %s" % (path, errno.errorcode[e.errno]))
        return
    fds.append(fd)
    locks = [
        ("lockf-whole", lambda f: fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 0, 0)),
        ("lockf-sqlite", lambda f: fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 512, SQLITE_LOCK)),
        ("ofd-whole", lambda f: ofd(f, 0, 0)),
        ("ofd-sqlite", lambda f: ofd(f, SQLITE_LOCK, 512)),
        ("flock-ex", lambda f: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)),
        ("flock-sh", lambda f: fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)),
    ]
    got_flock = False
    for name, fn in locks:
        if name == "flock-sh" and got_flock:
            continue
        f = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)   # one open file description per lock
        fds.append(f)
        try:
            fn(f)
            held.append("%s %s" % (path, name))
            got_flock = got_flock or name == "flock-ex"
        except OSError as e:
            refused.append("%s %s: %s" % (path, name, errno.errorcode.get(e.errno, e.errno)))

for d, dirs, files in os.walk(root, onerror=lambda e: refused.append("%s list: %s" % (e.filename, errno.errorcode[e.errno]))):
    take(d)
    for f in files:
        take(os.path.join(d, f))
for p in extra:
    take(p)
for h in held:
    print("held " + h)
for r in refused:
    print("refused " + r)
print("locked", flush=True)
time.sleep(float(os.environ.get("HOLD", "60")))
PYEOF
: >"$W/holder.out"
HOLD=60 setpriv --reuid=17010 --regid=17010 --init-groups "$PY" "$W/holder.py" "$STATE" \
	"$STATE/private" "$DB" "$DB.lock" "$DB-journal" >"$W/holder.out" 2>&1 &
HOLDER=$!
bg_track "$HOLDER"
wait_ready "$HOLDER" "$W/holder.out" locked "the lock holder did not start"
diag "b: the holder took $(grep -c '^held ' "$W/holder.out") locks; it holds:"
grep '^held ' "$W/holder.out" | sed 's/^/#   | /'
check_match "b: the holder holds a shared lock (lockf) on the index" "^held $(rx "$IDX") lockf-whole" "$(cat "$W/holder.out")"
check_match "b: the holder holds an OFD lock on the index's SQLite lock bytes" "^held $(rx "$IDX") ofd-sqlite" "$(cat "$W/holder.out")"
check_match "b: the holder holds flock LOCK_EX on the index" "^held $(rx "$IDX") flock-ex" "$(cat "$W/holder.out")"
check_match "b: the holder holds flock on $STATE itself" "^held $(rx "$STATE") flock-ex" "$(cat "$W/holder.out")"
check_match "b: the holder cannot open the store (EACCES)" "^refused $(rx "$DB") open: EACCES" "$(cat "$W/holder.out")"
check_match "b: the holder cannot open the lock file (EACCES)" "^refused $(rx "$DB.lock") open: EACCES" "$(cat "$W/holder.out")"
check_nomatch "b: the holder holds nothing inside private/" "^held $(rx "$STATE/private")" "$(cat "$W/holder.out")"
capture setpriv --reuid=17010 --regid=17010 --init-groups "$PY" -c 'import sys; open(sys.argv[1], "rb")' "$DB"
check_match "b: opening the store as a user: permission denied" 'PermissionError|Permission denied' "$C_ERR"
capture setpriv --reuid=17010 --regid=17010 --init-groups sqlite3 -readonly "$DB" 'SELECT count(*) FROM ranges;'
check_true "b: sqlite3 -readonly on the store as a user fails (exit $C_RC)" "$C_RC" -ne 0

t0=$(now_ms)
rc=0
login subid-opt rb_new >"$W/o" 2>&1 || rc=$?
t1=$(now_ms)
check_eq "b: first login (optional) of rb_new succeeds while the locks are held" 0 "$rc"
check_true "b: ... in under 1 s ($((t1 - t0)) ms)" $((t1 - t0)) -lt 1000
t0=$(now_ms)
rc=0
login subid-strict rb_strict >"$W/o" 2>&1 || rc=$?
t1=$(now_ms)
check_eq "b: first login (strict) of rb_strict succeeds while the locks are held" 0 "$rc"
check_true "b: ... in under 1 s ($((t1 - t0)) ms)" $((t1 - t0)) -lt 1000
if kill -0 "$HOLDER" 2>/dev/null; then ok "b: the holder still holds its locks"; else not_ok "b: the holder still holds its locks"; fi
for u in rb_new:17011 rb_strict:17012; do
	s=$(start_of "${u#*:}" 1)
	subids_as "${u#*:}" "${u%:*}" >"$W/o"
	check_eq "b: getsubids ${u%:*} (as ${u%:*}) serves its stored range" "0: ${u%:*} ${s:-none} $C" "$(cat "$W/o")"
done
kill "$HOLDER" 2>/dev/null || true
wait "$HOLDER" 2>/dev/null || true

# ---- c. what readers load ------------------------------------------------------------------
diag "c: libraries loaded by readers (LD_DEBUG=libs)"
as_user 17001 env LD_DEBUG=libs getsubids ra >"$W/c.out" 2>"$W/c.err" || true
check_eq "c: getsubids ra (as ra, LD_DEBUG) serves ra's range" "0: ra ${RA:-none} $C" "$(cat "$W/c.out")"
check_match "c: ... the plugin was loaded (so the grep sees what dlopen finds)" 'libsubid_subid\.so' "$(cat "$W/c.err")"
check_nomatch "c: ... libsqlite3 was not loaded" 'libsqlite3' "$(cat "$W/c.err")"
check_nomatch "c: ... libldap was not loaded" 'libldap' "$(cat "$W/c.err")"
LD_DEBUG=libs pamtester subid-opt ra open_session close_session >"$W/c.out" 2>"$W/c.err" || true
check_match "c: a later login of ra (LD_DEBUG) loads pam_subid" 'pam_subid\.so' "$(cat "$W/c.err")"
check_nomatch "c: ... and not libsqlite3" 'libsqlite3' "$(cat "$W/c.err")"
check_nomatch "c: ... nor libldap" 'libldap' "$(cat "$W/c.err")"
LD_DEBUG=libs pamtester subid-strict ra open_session close_session >"$W/c.out" 2>"$W/c.err" || true
check_nomatch "c: a later strict login of ra loads neither libsqlite3 nor libldap" 'libsqlite3|libldap' "$(cat "$W/c.err")"
add_user rc_first 17020
LD_DEBUG=libs pamtester subid-opt rc_first open_session close_session >"$W/c.out" 2>"$W/c.err" || true
check_match "c: a first login (rc_first) does load libsqlite3 (the grep works)" 'libsqlite3' "$(cat "$W/c.err")"
check_eq "c: ... and granted ranges" 2 "$(db_rows 'uid = 17020')"

# ---- d. migration from the old layout ------------------------------------------------------
diag "d: a store of the old layout"
add_user rd_old 17030
add_user rd_old2 17031
add_user rd_new 17032
# a store made by the current code elsewhere, then put where the old layout kept it
conf "$W/mk/private/subid.db"
check "d: rd_old's login makes a store in $W/mk" login subid-opt rd_old
check "d: rd_old2's login too" login subid-opt rd_old2
for o in old old2; do
	mkdir -p "$W/$o"
	chmod 0755 "$W/$o"
	cp "$W/mk/private/subid.db" "$W/$o/subid.db"
	chown 0:0 "$W/$o/subid.db"
	chmod 0644 "$W/$o/subid.db"
done
# the old code kept no generation
sqlite3 "$W/old/subid.db" "DELETE FROM meta WHERE key = 'generation';"
rm -rf "$W/mk"
ROLD=$(start_of 17030 1 "$W/old/subid.db")
ROLD2=$(start_of 17031 1 "$W/old/subid.db")
OLDROWS=$(store_rows "$W/old/subid.db")

conf "$W/old/private/subid.db"
subids_as 17030 rd_old >"$W/o"
check_eq "d: before any write, getsubids rd_old serves nothing (no index yet)" "" "$(cat "$W/o")"
check_true "d: ... and getsubids exits normally ($SUBIDS_RC)" "$SUBIDS_RC" -lt 128
log_clear
check "d: rd_new's first login on the old-layout store succeeds" login subid-opt rd_new
log_grep "store migrated path=$(rx "$W/old/private/subid.db") from=$(rx "$W/old/subid.db")" \
	"d: syslog: store migrated path=.../old/private/subid.db from=.../old/subid.db"
diag "d: index lines the migrating login logged: $(log_text | grep -cE 'index (republished|refused|error)' || true)"
log_text | grep -E 'index (republished|refused|error)' | sed 's/^/#   | /' || true
check_eq "d: the old path is gone" missing "$(mode_of "$W/old/subid.db")"
check_eq "d: the store is at private/subid.db, 0600 root" "600 0 0" "$(mode_of "$W/old/private/subid.db")"
check_eq "d: private/ is 0700 root" "700 0 0" "$(mode_of "$W/old/private")"
check_eq "d: the index is 0644 root" "644 0 0" "$(mode_of "$W/old/ranges.idx")"
RNEW=$(start_of 17032 1 "$W/old/private/subid.db")
subids_as 17030 rd_old >"$W/o"
check_eq "d: getsubids rd_old (as rd_old) serves the old owner's range" "0: rd_old ${ROLD:-none} $C" "$(cat "$W/o")"
subids_as 17031 rd_old2 >"$W/o"
check_eq "d: getsubids rd_old2 serves the other old owner's range" "0: rd_old2 ${ROLD2:-none} $C" "$(cat "$W/o")"
subids_as 17032 rd_new >"$W/o"
check_eq "d: getsubids rd_new serves the new owner's range" "0: rd_new ${RNEW:-none} $C" "$(cat "$W/o")"
check_eq "d: the index lists the store's owners" "$(store_rows "$W/old/private/subid.db")" \
	"$(idx dump "$W/old/ranges.idx" | grep -v '^generation')"
check_match "d: the old owners' rows survived the move" "^17030 " "$(store_rows "$W/old/private/subid.db")"

# the same through subidctl reindex
conf "$W/old2/private/subid.db"
subids_as 17030 rd_old >"$W/o"
check_eq "d: (reindex) before it, getsubids rd_old serves nothing" "" "$(cat "$W/o")"
log_clear
capture "$SUBIDCTL" -c "$CONF" reindex
check_eq "d: subidctl reindex exits 0" 0 "$C_RC"
check_eq "d: ... and says what it published" "reindex: 2 owners published to $W/old2/ranges.idx" "$C_OUT"
log_grep "store migrated path=$(rx "$W/old2/private/subid.db") from=$(rx "$W/old2/subid.db")" \
	"d: (reindex) syslog: store migrated"
check_eq "d: (reindex) the old path is gone" missing "$(mode_of "$W/old2/subid.db")"
check_eq "d: (reindex) the store is at private/subid.db, 0600 root" "600 0 0" "$(mode_of "$W/old2/private/subid.db")"
check_eq "d: (reindex) private/ is 0700 root" "700 0 0" "$(mode_of "$W/old2/private")"
check_eq "d: (reindex) the index is 0644 root" "644 0 0" "$(mode_of "$W/old2/ranges.idx")"
subids_as 17030 rd_old >"$W/o"
check_eq "d: (reindex) getsubids rd_old serves the old owner's range" "0: rd_old ${ROLD:-none} $C" "$(cat "$W/o")"
subids_as 17031 rd_old2 >"$W/o"
check_eq "d: (reindex) getsubids rd_old2 too" "0: rd_old2 ${ROLD2:-none} $C" "$(cat "$W/o")"
check_eq "d: (reindex) the index lists the old store's owners" "$OLDROWS" \
	"$(idx dump "$W/old2/ranges.idx" | grep -v '^generation')"
conf "$DB"

# ---- e. a writer stopped between its commit and its publish --------------------------------
diag "e: the index lags the store"
add_user re_one 17040
add_user re_two 17041
add_user re_a 17042
add_user re_b 17043
cp -p "$IDX" "$W/idx.saved"
check "e: re_one's first login (grant)" login subid-opt re_one
R1=$(start_of 17040 1)
cp -p "$W/idx.saved" "$IDX" # as if the writer died after COMMIT, before its rename
subids_as 17040 re_one >"$W/o"
check_eq "e: the restored (lagging) index does not list re_one's grant" "" "$(cat "$W/o")"
log_clear
check "e: re_two's first login (the next writer)" login subid-opt re_two
log_grep "index republished path=$(rx "$IDX") generation=[0-9]+ owners=[0-9]+ reason=\"[^\"]*lagged" \
	"e: syslog: index republished ... reason=\"it lagged the store ...\""
subids_as 17040 re_one >"$W/o"
check_eq "e: getsubids re_one serves its range now" "0: re_one ${R1:-none} $C" "$(cat "$W/o")"
R2=$(start_of 17041 1)
subids_as 17041 re_two >"$W/o"
check_eq "e: getsubids re_two serves its range" "0: re_two ${R2:-none} $C" "$(cat "$W/o")"
check_eq "e: the index lists every owner as the store holds them" "$(store_rows)" "$(index_rows)"
# every owner, both kinds, through libsubid (the plugin)
qs=$(store_rows | awk '{ printf "uranges:%s granges:%s ", $1, $1 }')
# shellcheck disable=SC2086
libsubid_query $qs >"$W/q.out" 2>&1 || true
want=$(store_rows | awk '{ printf "uranges:%s 1 %s+%s\ngranges:%s 1 %s+%s\n", $1, $2, $3, $1, $4, $5 }')
check_eq "e: libsubid (plugin) serves every stored owner's ranges" "$want" "$(cat "$W/q.out")"

diag "e: a released range is handed out only after the index stopped listing it"
check "e: re_a's first login" login subid-opt re_a
RA_U=$(start_of 17042 1)
RA_G=$(start_of 17042 2)
cp -p "$IDX" "$W/idx.before-release"
check "e: subidctl release --yes re_a" "$SUBIDCTL" -c "$CONF" release --yes re_a
check_eq "e: the store no longer holds re_a" 0 "$(db_rows 'uid = 17042')"
cp -p "$W/idx.before-release" "$IDX" # the release's publish never happened
libsubid_query "uranges:re_a" >"$W/q.out" 2>&1 || true
check_eq "e: the restored index still lists re_a's released range" "uranges:re_a 1 $RA_U+$C" "$(cat "$W/q.out")"
# a reader polling the index through re_b's login: no snapshot lists a range twice
rm -f "$W/poll.stop"
: >"$W/poll.out"
"$PY" "$W/idx.py" poll "$IDX" "$W/poll.stop" 17042 17043 >"$W/poll.out" 2>&1 &
POLL=$!
bg_track "$POLL"
wait_ready "$POLL" "$W/poll.out" polling "the index poller did not start"
log_clear
check "e: re_b's first login" login subid-opt re_b
touch "$W/poll.stop"
wait "$POLL" || true
diag "e: poller: $(tail -n 1 "$W/poll.out")"
check_nomatch "e: no snapshot of the index during re_b's login lists a range for two owners" \
	'^(shared|malformed)' "$(cat "$W/poll.out")"
check_match "e: the poller saw the index (it read snapshots)" '^snapshots [1-9]' "$(cat "$W/poll.out")"
RB_U=$(start_of 17043 1)
lt=$(log_text)
check_match "e: syslog: re_b's login republished the index first" \
	"index republished path=$(rx "$IDX") .*lagged" "$lt"
n_rep=$(printf '%s\n' "$lt" | grep -n 'index republished' | head -n 1 | cut -d: -f1)
n_grant=$(printf '%s\n' "$lt" | grep -n 'granted user=re_b ' | head -n 1 | cut -d: -f1)
check_true "e: ... before it granted re_b (republish line ${n_rep:-none}, grant line ${n_grant:-none})" \
	"${n_rep:-999999}" -lt "${n_grant:-0}"
if [ "${RB_U:-}" = "$RA_U" ]; then
	diag "e: re_b got re_a's old subuid range $RA_U (after the republish)"
else
	diag "e: re_b got $RB_U (re_a's old one was $RA_U)"
fi
libsubid_query "uranges:re_a" "granges:re_a" "uranges:re_b" "uowners:$RA_U" "gowners:$RA_G" >"$W/q.out" 2>&1 || true
q=$(cat "$W/q.out")
check_match "e: libsubid: re_a has no subuid range" '^uranges:re_a 0$' "$q"
check_match "e: libsubid: re_a has no subgid range" '^granges:re_a 0$' "$q"
check_match "e: libsubid: re_b has its stored range" "^uranges:re_b 1 ${RB_U:-none}\+$C\$" "$q"
check_nomatch "e: libsubid: re_a's old subuid start is not owned by re_a" "^uowners:$RA_U .*\b17042\b" "$q"
check_match "e: libsubid: re_a's old subuid start has at most one owner" "^uowners:$RA_U -?[01]( [0-9]+)?\$" "$q"
check_eq "e: the store: no range of either kind has two owners" "" \
	"$(db_query "SELECT a.uid, b.uid, a.kind FROM ranges a JOIN ranges b ON a.kind = b.kind AND a.uid < b.uid
		AND a.start < b.start + b.count AND b.start < a.start + a.count;")"
check "e: the published index: no range listed for two owners, records consistent" idx dump "$IDX"
check_eq "e: the index lists every owner as the store holds them" "$(store_rows)" "$(index_rows)"

# ---- f. SIGKILLs during 200 first logins ---------------------------------------------------
diag "f: 200 first logins in 4 streams under random SIGKILLs"
for i in $(seq 0 199); do
	printf 'rf%03d:x:%d:%d:subid test user:/nonexistent:/bin/sh\n' "$i" $((17200 + i)) $((17200 + i)) >>/etc/passwd
	printf 'rf%03d:x:%d:\n' "$i" $((17200 + i)) >>/etc/group
	printf 'rf%03d:*:19000:0:99999:7:::\n' "$i" >>/etc/shadow
done
add_user rf_repair 17500
tf0=$(now_ms)
SPIDS=
for s in 0 1 2 3; do
	(
		for i in $(seq "$s" 4 199); do
			pamtester subid-opt "$(printf 'rf%03d' "$i")" open_session close_session >/dev/null 2>&1 || true
		done
	) 2>/dev/null &
	SPIDS="$SPIDS${SPIDS:+,}$!"
	bg_track "$!"
done
kills=0
rounds=0
for _ in $(seq 3000); do
	rounds=$((rounds + 1))
	alive=0
	for p in ${SPIDS//,/ }; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ "$alive" = 1 ] || break
	sleep "0.0$((RANDOM % 2))$((RANDOM % 10))"
	# a pamtester of our streams (children of the stream subshells), by pid;
	# read from /proc with builtins only (pgrep costs 100 ms here)
	victims=()
	for p in ${SPIDS//,/ }; do
		kids=()
		{ read -r -a kids <"/proc/$p/task/$p/children"; } 2>/dev/null || true
		for k in "${kids[@]}"; do
			c=
			{ read -r c <"/proc/$k/comm"; } 2>/dev/null || true
			[ "$c" != pamtester ] || victims+=("$k")
		done
	done
	[ "${#victims[@]}" -gt 0 ] || continue
	v=${victims[$((RANDOM % ${#victims[@]}))]}
	if kill -KILL "$v" 2>/dev/null; then kills=$((kills + 1)); fi
done
for p in ${SPIDS//,/ }; do wait "$p" 2>/dev/null || true; done
tf1=$(now_ms)
granted=$(db_query "SELECT count(DISTINCT uid) FROM ranges WHERE uid BETWEEN 17200 AND 17399;")
diag "f: $kills SIGKILLs in $rounds rounds; $granted of 200 users granted; $((tf1 - tf0)) ms"
check_true "f: some logins were killed ($kills)" "$kills" -gt 0
check_true "f: some logins got through ($granted)" "${granted:-0}" -gt 0
lagged=same
[ "$(store_rows)" = "$(index_rows)" ] || lagged=differ
diag "f: index vs store before the repair: $lagged"
leftover=$(find "$STATE" -maxdepth 1 -name '.ranges.idx.*' | wc -l)
diag "f: temporary index files left by killed writers: $leftover"
log_clear
check "f: one more writer login (rf_repair) succeeds" login subid-opt rf_repair
log_text | grep -E 'index (republished|refused|error)|store error' | sed 's/^/#   | /' | head -n 5 || true
if [ "$lagged" = differ ]; then
	log_grep 'index republished' "f: the index lagged after the kills: the repair login republished it"
fi
store_now=$(store_rows)
check_eq "f: the index lists every stored owner with the stored ranges, and nobody else" "$store_now" "$(index_rows)"
check "f: the index has no range listed for two owners and consistent records" idx dump "$IDX"
# what the plugin serves, for every owner the store holds, by name
: >"$W/f.want"
qs=
while read -r uid us uc gs gc; do
	name=$(getent passwd "$uid" | cut -d: -f1)
	qs="$qs uranges:$name granges:$name"
	printf 'uranges:%s 1 %s+%s\ngranges:%s 1 %s+%s\n' "$name" "$us" "$uc" "$name" "$gs" "$gc" >>"$W/f.want"
done <<<"$store_now"
# shellcheck disable=SC2086
libsubid_query $qs >"$W/f.got" 2>&1 || true
check_eq "f: libsubid (plugin) serves each of the $(wc -l <<<"$store_now") stored owners exactly its stored ranges" \
	"$(cat "$W/f.want")" "$(cat "$W/f.got")"
check_eq "f: store: every owner has both kinds" "$(db_query 'SELECT count(DISTINCT uid) FROM ranges;')" "$(wc -l <<<"$store_now")"
check "f: invariants.py holds on the store" "$PY" "$TESTS_DIR/invariants.py" --db "$DB"
tf2=$(now_ms)
diag "f: took $((tf2 - tf0)) ms"

# ---- g. a hostile index --------------------------------------------------------------------
diag "g: a hostile index is refused"
add_user rg 17050
add_user rg_evil 17051
check "g: rg's first login" login subid-opt rg
RG=$(start_of 17050 1)
cp -p "$IDX" "$W/idx.good"
subids_as 17050 rg >"$W/o"
check_eq "g: the good index serves rg" "0: rg ${RG:-none} $C" "$(cat "$W/o")"
map_allowed "g: with the good index rg maps its own range" 17050 "$RG"

restore_good() {
	rm -f "$IDX"
	cp -p "$W/idx.good" "$IDX"
	chown 0:0 "$STATE"
	chmod 0755 "$STATE"
}

# hostile NAME: damage the index (damage NAME), then assert
hostile() {
	local name=$1 out
	restore_good
	damage "$name"
	log_clear
	subids_as 17050 rg >"$W/o"
	check_eq "g [$name]: getsubids rg prints nothing" "" "$(cat "$W/o")"
	check_true "g [$name]: getsubids exits normally ($SUBIDS_RC)" "$SUBIDS_RC" -lt 128
	subids_as 17050 -g rg >"$W/o"
	check_eq "g [$name]: getsubids -g rg prints nothing" "" "$(cat "$W/o")"
	libsubid_query "uranges:rg" "uowners:${RG:-0}" >"$W/q.out" 2>&1 || true
	out=$(cat "$W/q.out")
	check_nomatch "g [$name]: libsubid serves rg no range" "^uranges:rg [1-9]" "$out"
	# a flipped owner record leaves rg's span intact: the owner of an id
	# is read from the span alone, which is whole (records are checked as
	# they are read)
	if [ "$name" != flipped ]; then
		check_nomatch "g [$name]: libsubid names no owner of rg's range" "^uowners:[0-9]+ [1-9]" "$out"
	else
		diag "g [$name]: libsubid owner of rg's start: $(grep '^uowners' "$W/q.out")"
	fi
	map_refused "g [$name]: newuidmap refuses rg's own range" 17050 "$RG"
	log_grep 'index refused' "g [$name]: syslog: index refused"
	restore_good
	subids_as 17050 rg >"$W/o"
	check_eq "g [$name]: restored, the good index serves rg again" "0: rg ${RG:-none} $C" "$(cat "$W/o")"
}
# damage NAME: make the index hostile one way
damage() {
	case "$1" in
	group_writable) chmod 0664 "$IDX" ;;
	other_writable) chmod 0646 "$IDX" ;;
	user_owned) chown 17051:17051 "$IDX" ;;
	symlink)
		cp -p "$W/idx.good" "$STATE/good.idx"
		rm -f "$IDX"
		ln -s good.idx "$IDX"
		;;
	truncated) truncate -s 100 "$IDX" ;;
	flipped) idx flip "$IDX" 17050 ;;
	version) idx version "$IDX" 2 ;;
	magic) idx magic "$IDX" ;;
	size) idx grow "$IDX" ;;
	parent_user_owned) chown 17051 "$STATE" ;;
	parent_group_writable) chmod 0775 "$STATE" ;;
	*) hard_error "no damage $1" ;;
	esac
}
for h in group_writable other_writable user_owned symlink truncated flipped version magic size \
	parent_user_owned parent_group_writable; do
	hostile "$h"
done
rm -f "$STATE/good.idx"
map_allowed "g: after all that, rg maps its own range again" 17050 "$RG"

# ---- h. subidctl list as a user ------------------------------------------------------------
diag "h: subidctl list by an unprivileged user"
capture as_user 17001 "$SUBIDCTL" -c "$CONF" list
check_eq "h: subidctl list as ra exits 0" 0 "$C_RC"
check_nomatch "h: ... no permission error" '[Pp]ermission|denied|refused' "$C_ERR"
diag_file "$T_OUT.err"
n_owners=$(index_rows | wc -l)
for who in ra rb_new rb_strict rc_first re_one re_b rg rf_repair; do
	check_match "h: ... lists $who" "(^|[^[:alnum:]_])$who([^[:alnum:]_]|\$)" "$C_OUT"
done
check_nomatch "h: ... does not list the released re_a" "(^|[^[:alnum:]_])re_a([^[:alnum:]_]|\$)" "$C_OUT"
# one owner renamed in NSS: list names it as NSS does now
sed -i 's/^rg:x:17050:/rg_renamed:x:17050:/' /etc/passwd
capture as_user 17001 "$SUBIDCTL" -c "$CONF" list
check_match "h: ... names an owner renamed in NSS by its new name" "(^|[^[:alnum:]_])rg_renamed([^[:alnum:]_]|\$)" "$C_OUT"
check_eq "h: ... one line per range of the index ($n_owners owners, 2 kinds)" $((2 * n_owners)) \
	"$(printf '%s\n' "$C_OUT" | grep -cE "(^|[^0-9])$C([^0-9]|\$)" || true)"
sed -i 's/^rg_renamed:x:17050:/rg:x:17050:/' /etc/passwd

finish
