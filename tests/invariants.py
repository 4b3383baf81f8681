#!/usr/bin/env python3
"""Check the store's invariants directly on the SQLite database, and the
published read index against it.

Shared by the concurrency, crash and hostile-input tests.  Every violation
is printed; exit status 1 when there is any, 2 on a usage error.

  invariants.py --db DB [--subuid F] [--subgid F] [--range-min N --range-max N]
                [--count N] [--any-pool] [--real-end N] [--reserved A-B,...]
                [--expect-uids 2001,2002,...] [--expect-file FILE]
                [--index IDX [--index-may-lag]]
  invariants.py --dump-index IDX

The store is the writer's (root's alone, e.g. /var/lib/subid/private/subid.db):
run as root.  It is opened read-only; a hot journal (a writer died
mid-transaction) is an error here: check a rolled-back copy instead.

--any-pool drops the checks against one pool and count (for a store whose
cases used several pools, as the hostile-input test's do).

--expect-file holds lines "UID START" of allocations reported as successful:
each must be in the store with that start.

--index IDX reads the read index (common/subid_index.h) independently of the
C code: header (magic, version, byte order, checksum, size), owner records
(checksums, strictly ascending uids, valid ranges), spans (checksums, sorted,
never overlapping, each the range of the owner record it names), and compares
it with the store: the same generation (meta 'generation'), the same owners
with the same ranges, each owner's name hash that of the store's name.  With
--index-may-lag (straight after a crash, before any writer ran) the index may
be behind the store (a writer died between its COMMIT and its publish): its
generation must not be above the store's, it must list no range the store
gives another owner, and every owner it lists must hold the same ranges in
the store (the workload only allocates); equal generations still mean equal
contents.

--dump-index IDX prints "generation G" and then "UID US UC GS GC" per owner
(uid order; a count of 0: no range of that kind); exit 3 when malformed.
"""
import argparse
import bisect
import os
import pwd
import sqlite3
import struct
import sys

# ---- the read index, as common/subid_index.h lays it out ----------------------------
IX_HDR = struct.Struct("=8sIIQQQQQII")    # 64 bytes
IX_OWN = struct.Struct("=IIIIQQQQ")       # 48 bytes
IX_SPAN = struct.Struct("=QQII")          # 24 bytes
IX_SEED = 2166136261
ID_LIMIT = 4294967295                     # uid 4294967295 is (uid_t)-1, never a subordinate ID


def fnv(h, data):
    """FNV-1a, 32 bits."""
    for c in data:
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def name_hash(name):
    if name is None:
        return 0
    if isinstance(name, str):
        name = name.encode("utf-8", "surrogateescape")
    return fnv(IX_SEED, name)


class MalformedIndex(ValueError):
    pass


def read_index(path):
    """Parse and verify the whole index: (generation, {uid: (name_hash, us, uc, gs, gc)}).
    Raises MalformedIndex on anything malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < IX_HDR.size:
        raise MalformedIndex("shorter than its header (%d bytes)" % len(data))
    magic, ver, bom, gen, n, nu, ng, size, res, hc = IX_HDR.unpack_from(data, 0)
    if magic != b"SUBIDIX\0":
        raise MalformedIndex("bad magic %r" % magic)
    if ver != 1 or bom != 0x01020304 or res != 0:
        raise MalformedIndex("version %d, byte-order mark %#x, reserved %d" % (ver, bom, res))
    if hc != fnv(IX_SEED, data[:60]):
        raise MalformedIndex("header checksum")
    if nu > n or ng > n or size != IX_HDR.size + IX_OWN.size * n + IX_SPAN.size * (nu + ng) or size != len(data):
        raise MalformedIndex("size %d for %d owners, %d + %d spans (file %d bytes)" % (size, n, nu, ng, len(data)))
    owners, prev = {}, None
    for i in range(n):
        uid, chk, nh, r, us, uc, gs, gc = IX_OWN.unpack_from(data, IX_HDR.size + IX_OWN.size * i)
        if chk != fnv(IX_SEED, struct.pack("=7Q", uid, nh, r, us, uc, gs, gc)):
            raise MalformedIndex("owner record %d (uid %d): checksum" % (i, uid))
        if prev is not None and uid <= prev:
            raise MalformedIndex("owner records out of order at %d" % i)
        if r != 0 or (uc == 0 and gc == 0):
            raise MalformedIndex("owner record %d (uid %d): reserved field or no range" % (i, uid))
        for s, c in ((us, uc), (gs, gc)):
            if (c == 0 and s != 0) or (c != 0 and (s >= ID_LIMIT or c > ID_LIMIT - s)):
                raise MalformedIndex("owner record %d (uid %d): bad range %d+%d" % (i, uid, s, c))
        prev = uid
        owners[uid] = (nh, us, uc, gs, gc)
    off = IX_HDR.size + IX_OWN.size * n
    for kind, cnt in ((1, nu), (2, ng)):
        spans = []
        for i in range(cnt):
            s, c, uid, chk = IX_SPAN.unpack_from(data, off)
            off += IX_SPAN.size
            if chk != fnv(IX_SEED ^ 0x5A5A5A5A, struct.pack("=4Q", s, c, uid, kind)):
                raise MalformedIndex("kind %d span %d: checksum" % (kind, i))
            if spans and spans[-1][0] + spans[-1][1] > s:
                raise MalformedIndex("kind %d spans out of order or overlapping at %d" % (kind, i))
            spans.append((s, c, uid))
        want = sorted((o[1], o[2], u) if kind == 1 else (o[3], o[4], u)
                      for u, o in owners.items() if (o[2] if kind == 1 else o[4]))
        if spans != want:
            raise MalformedIndex("kind %d spans are not the owners' ranges" % kind)
    return gen, owners


def check_index(a, db, rows, bad):
    """The index against the store (see --index)."""
    try:
        gen, ix = read_index(a.index)
    except (OSError, MalformedIndex) as e:
        bad.append("index %s: %s" % (a.index, e))
        return None
    st = os.lstat(a.index)
    if st.st_uid != 0 or st.st_mode & 0o7777 != 0o644 or not (st.st_mode & 0o170000 == 0o100000):
        bad.append("index %s: mode %o owner %d, expected a regular file 0644 root's"
                   % (a.index, st.st_mode, st.st_uid))
    g = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall()
    sgen = g[0][0] if g else 0
    names = dict(db.execute("SELECT uid, max(name) FROM ranges GROUP BY uid").fetchall())
    store = {}
    for uid, kind, start, count in rows:
        store.setdefault(uid, [0, 0, 0, 0])[2 * (kind - 1):2 * kind] = [start, count]
    iv = sorted((start, start + count, uid) for uid, kind, start, count in rows)
    starts = [x[0] for x in iv]
    maxcount = max((count for _, _, _, count in rows), default=0)
    exact = not a.index_may_lag or gen == sgen
    if gen > sgen or (not a.index_may_lag and gen != sgen):
        bad.append("index generation %d, store generation %d" % (gen, sgen))
    for uid, (nh, us, uc, gs, gc) in sorted(ix.items()):
        want = store.get(uid)
        if want is None:
            if exact:
                bad.append("index lists uid %d (%d+%d, %d+%d), the store has no range of it" % (uid, us, uc, gs, gc))
        elif [us, uc, gs, gc] != want:
            bad.append("index lists uid %d as %d+%d, %d+%d; the store as %d+%d, %d+%d"
                       % (uid, us, uc, gs, gc, *want))
        elif nh != name_hash(names.get(uid)):
            bad.append("index: uid %d's name hash is not that of its stored name %r" % (uid, names.get(uid)))
        # never a range the store gives someone else (any kind)
        for s, c in ((us, uc), (gs, gc)):
            if c == 0:
                continue
            i = bisect.bisect_left(starts, s + c)
            while i > 0 and iv[i - 1][0] + maxcount > s:
                i -= 1
                os_, oe, ouid = iv[i]
                if ouid != uid and os_ < s + c and s < oe:
                    bad.append("index gives uid %d [%d, %d), the store gives uid %d [%d, %d)"
                               % (uid, s, s + c, ouid, os_, oe))
    if exact:
        for uid in sorted(set(store) - set(ix)):
            bad.append("store has uid %d, the index does not list it" % uid)
    return gen, sgen, len(ix)


def dump_index(path):
    try:
        gen, ix = read_index(path)
    except (OSError, MalformedIndex) as e:
        print("malformed: %s" % e)
        return 3
    print("generation %d" % gen)
    for uid, o in sorted(ix.items()):
        print(uid, *o[1:])
    return 0


def parse_file(path):
    out = []
    try:
        # the files may hold any bytes (hostile-input cases)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                p = line.split(":")
                if len(p) != 3 or not p[1].isdigit() or not p[2].isdigit() or int(p[2]) == 0:
                    continue
                out.append((p[0], int(p[1]), int(p[1]) + int(p[2])))
    except FileNotFoundError:
        pass
    return out


def _account(how, key):
    """(uid, name) of the account getpwnam/getpwuid finds, or None."""
    try:
        pw = pwd.getpwnam(key) if how == "name" else pwd.getpwuid(key)
    except (KeyError, ValueError, OverflowError, TypeError):
        return None
    return pw.pw_uid, pw.pw_name


def file_line_matches(files, rows):
    """Violations: a subuid/subgid line matched by more than one uid."""
    bad = []
    for path, kind in files:
        for o, s, e in parse_file(path):
            who = {}   # uid -> how it matches the line
            acc = _account("name", o)
            if acc is not None:
                who.setdefault(acc[0], []).append("getpwnam(%r)" % o)
            if o and o.isascii() and o.isdigit():
                acc = _account("uid", int(o))
                if acc is not None:
                    who.setdefault(acc[0], []).append("getpwuid(%s) (%s)" % (o, acc[1]))
            for uid, k, start, count in rows:
                if k == kind and start < e and s < start + count:
                    who.setdefault(uid, []).append("store row [%d, %d)" % (start, start + count))
            if len(who) > 1:
                desc = " and ".join("uid %d (%s)" % (u, ", ".join(h)) for u, h in sorted(who.items()))
                bad.append("%s line %s:%d:%d matched by %s" % (path, o, s, e - s, desc))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--index")
    ap.add_argument("--index-may-lag", action="store_true")
    ap.add_argument("--dump-index")
    ap.add_argument("--subuid", default="/etc/subuid")
    ap.add_argument("--subgid", default="/etc/subgid")
    ap.add_argument("--range-min", type=int, default=2147483648)
    ap.add_argument("--range-max", type=int, default=4294836224)
    ap.add_argument("--count", type=int, default=65536)
    ap.add_argument("--any-pool", action="store_true")
    ap.add_argument("--real-end", type=int, default=65536,
                    help="IDs below this belong to real accounts")
    ap.add_argument("--reserved", default="")
    ap.add_argument("--expect-uids", default="")
    ap.add_argument("--expect-file")
    a = ap.parse_args()
    if a.dump_index:
        return dump_index(a.dump_index)
    if not a.db:
        ap.error("--db is required")

    bad = []
    if not os.path.isfile(a.db):
        print("violation: no store at %s" % a.db)
        return 1
    if os.path.exists(a.db + "-journal") and os.path.getsize(a.db + "-journal") > 0:
        # a read-only connection cannot roll it back: say so instead of a traceback
        with open(a.db + "-journal", "rb") as f:
            if f.read(1) not in (b"", b"\0"):
                print("violation: hot journal %s-journal (a writer died mid-transaction; "
                      "the next writer rolls it back)" % a.db)
                return 1
    db = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True)
    ic = db.execute("PRAGMA integrity_check").fetchall()
    if ic != [("ok",)]:
        bad.append("integrity_check: %r" % (ic,))
    rows = db.execute("SELECT uid, kind, start, count FROM ranges").fetchall()
    free = db.execute("SELECT start, end FROM free ORDER BY start").fetchall()

    owners = {}
    for uid, kind, start, count in rows:
        owners.setdefault(uid, {})[kind] = (start, start + count)
        if a.any_pool:
            continue
        if count != a.count:
            bad.append("uid %d kind %d: count %d, expected %d" % (uid, kind, count, a.count))
        if start < a.range_min or start + count > a.range_max:
            bad.append("uid %d kind %d: [%d, %d) outside the pool" % (uid, kind, start, start + count))
    for uid, kinds in sorted(owners.items()):
        if set(kinds) != {1, 2}:
            bad.append("uid %d owns kinds %s, expected one subuid and one subgid range"
                       % (uid, sorted(kinds)))
        elif kinds[1][0] != kinds[2][0]:
            bad.append("uid %d: subuid starts at %d, subgid at %d" % (uid, kinds[1][0], kinds[2][0]))

    # no two ranges of different owners overlap (any kind)
    iv = sorted((s, e, uid) for uid, kinds in owners.items() for (s, e) in kinds.values())
    for i in range(len(iv)):
        for j in range(i + 1, len(iv)):
            if iv[j][0] >= iv[i][1]:
                break
            if iv[i][2] != iv[j][2]:
                bad.append("uid %d [%d, %d) overlaps uid %d [%d, %d)"
                           % (iv[i][2], iv[i][0], iv[i][1], iv[j][2], iv[j][0], iv[j][1]))

    # a file line names its owner by name or uid; the owner's own line (the
    # mirror writes one per range) is no overlap
    def line_owner(o):
        try:
            return pwd.getpwnam(o).pw_uid
        except (KeyError, ValueError):   # unknown, or not a valid name (NUL byte)
            return int(o) if o.isdigit() else None

    taken = [("real account IDs", 0, a.real_end, None)]
    for path in (a.subuid, a.subgid):
        taken += [("%s line of %s" % (path, o), s, e, line_owner(o)) for (o, s, e) in parse_file(path)]
    for r in filter(None, a.reserved.split(",")):
        lo, hi = r.split("-")
        taken.append(("reserved %s" % r, int(lo), int(hi) + 1, None))
    for s, e, uid in iv:
        for what, ts, te, towner in taken:
            if s < te and ts < e and towner != uid:
                bad.append("uid %d [%d, %d) overlaps %s [%d, %d)" % (uid, s, e, what, ts, te))

    # a file line is matched by one account only: its owner string names the
    # account getpwnam() finds, and (when all digits) the account of that uid;
    # a line over a store row of its kind was written for that row's uid.
    # Two different accounts matching one line means a login, newuidmap or
    # libsubid would hand one account's IDs to another (a numeric user name
    # that is another account's uid, a name reused after a rename or delete).
    bad += file_line_matches(((a.subuid, 1), (a.subgid, 2)), rows)

    # the free-span index never covers a stored range and stays in the pool
    for fs, fe in free:
        if fs >= fe or (not a.any_pool and (fs < a.range_min or fe > a.range_max)):
            bad.append("free span [%d, %d) invalid for the pool" % (fs, fe))
        for s, e, uid in iv:
            if s < fe and fs < e:
                bad.append("free span [%d, %d) covers uid %d's [%d, %d)" % (fs, fe, uid, s, e))
    for i in range(1, len(free)):
        if free[i][0] < free[i - 1][1]:
            bad.append("free spans overlap: %r %r" % (free[i - 1], free[i]))

    for u in filter(None, a.expect_uids.split(",")):
        if int(u) not in owners:
            bad.append("uid %s has no range" % u)
    nexp = 0
    if a.expect_file:
        with open(a.expect_file) as f:
            for line in f:
                p = line.split()
                if len(p) != 2:
                    continue
                nexp += 1
                uid, start = int(p[0]), int(p[1])
                got = owners.get(uid, {}).get(1)
                if got is None or got[0] != start:
                    bad.append("uid %d: allocation reported at %d is %s in the store"
                               % (uid, start, "missing" if got is None else "at %d" % got[0]))

    ixinfo = ""
    if a.index:
        r = check_index(a, db, rows, bad)
        if r is not None:
            ixinfo = ", index generation %d (store %d) with %d owners" % r

    for b in bad[:50]:
        print("violation: " + b)
    print("invariants: %d owners, %d ranges, %d free spans, %d reported allocations checked%s, "
          "%d violations" % (len(owners), len(rows), len(free), nexp, ixinfo, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
