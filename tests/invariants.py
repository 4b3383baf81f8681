#!/usr/bin/env python3
"""Check the store's invariants directly on the SQLite database.

Shared by the concurrency, crash and hostile-input tests.  Every violation
is printed; exit status 1 when there is any, 2 on a usage error.

  invariants.py --db DB [--subuid F] [--subgid F] [--range-min N --range-max N]
                [--count N] [--any-pool] [--real-end N] [--reserved A-B,...]
                [--expect-uids 2001,2002,...] [--expect-file FILE]

--any-pool drops the checks against one pool and count (for a store whose
cases used several pools, as the hostile-input test's do).

--expect-file holds lines "UID START" of allocations reported as successful:
each must be in the store with that start.
"""
import argparse
import pwd
import sqlite3
import sys


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
    ap.add_argument("--db", required=True)
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

    bad = []
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

    for b in bad[:50]:
        print("violation: " + b)
    print("invariants: %d owners, %d ranges, %d free spans, %d reported allocations checked, "
          "%d violations" % (len(owners), len(rows), len(free), nexp, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
