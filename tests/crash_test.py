#!/usr/bin/env python3
"""Kill allocating processes with SIGKILL at random instants.

  crash_test.py DRIVER CONF PREFIX NUSERS UID_BASE OUTFILE [MIN_ALLOCS [DB [INDEX]]]

Runs alloc_driver processes (the core call pam_subid makes) on random,
overlapping slices of the users PREFIX1..PREFIX<NUSERS> and SIGKILLs them
after a random delay, until at least MIN_ALLOCS allocations were reported
done.  Every reported "UID START" line goes to OUTFILE for the invariant
check.  The seed is printed; SUBID_CRASH_SEED=N replays a run.

With INDEX (the published read index), after every round, once every
process of the round is dead, the index is read as a reader would (it is
replaced by rename, never written in place): it must be well-formed (see
invariants.read_index), its generation must never go back, it must list no
range for two owners, and it must list every allocation reported so far with
the reported start (an allocation is reported only after its publish).
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import invariants  # noqa: E402


def index_violations(path, reported, last_gen):
    """(generation, [violations]) of the index at path after a round."""
    try:
        gen, ix = invariants.read_index(path)
    except FileNotFoundError:
        return last_gen, ([] if not reported else ["index %s missing after allocations were reported" % path])
    except (OSError, invariants.MalformedIndex) as e:
        return last_gen, ["index %s malformed: %s" % (path, e)]
    bad = []
    if gen < last_gen:
        bad.append("index generation went back from %d to %d" % (last_gen, gen))
    for uid, start in reported.items():
        o = ix.get(uid)
        if o is None or o[1] != start or o[3] != start:
            bad.append("reported allocation uid %d at %d: the index lists %s" % (uid, start, o and o[1:]))
    iv = sorted((o[1], o[1] + o[2], uid) for uid, o in ix.items() if o[2])
    for a, b in zip(iv, iv[1:]):
        if b[0] < a[1]:
            bad.append("the index lists [%d, %d) for uid %d and [%d, %d) for uid %d" % (a + b))
    return gen, bad


def main():
    driver, conf, prefix, nusers, uid_base, outfile = sys.argv[1:7]
    min_allocs = int(sys.argv[7]) if len(sys.argv) > 7 else 1000
    journal = sys.argv[8] + "-journal" if len(sys.argv) > 8 else None
    index = sys.argv[9] if len(sys.argv) > 9 else None
    index_gen, index_checks = 0, 0
    nusers, uid_base = int(nusers), int(uid_base)
    seed = int(os.environ.get("SUBID_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    print("# crash test seed=%d (replay with SUBID_CRASH_SEED=%d)" % (seed, seed), flush=True)
    rng = random.Random(seed)

    reported = {}
    kills = killed_mid_run = rounds = hot_journals = 0
    deadline = time.monotonic() + 240
    while len(reported) < min_allocs and time.monotonic() < deadline:
        rounds += 1
        procs = []
        for _ in range(rng.randint(1, 4)):
            lo = rng.randint(1, nusers)
            hi = min(nusers, lo + rng.randint(5, 120))
            procs.append(subprocess.Popen([driver, conf, prefix, str(lo), str(hi)],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        time.sleep(rng.uniform(0, 0.04))
        for p in procs:
            if rng.random() < 0.9:
                if p.poll() is None:
                    killed_mid_run += 1
                p.send_signal(signal.SIGKILL)
                kills += 1
        for p in procs:
            p.wait()
        # a journal left behind means a writer died inside a transaction
        if journal and os.path.exists(journal) and os.path.getsize(journal) > 0:
            hot_journals += 1
        for p in procs:
            out, _ = p.communicate()
            for line in out.decode().splitlines():
                uid, start = line.split()
                if int(uid) in reported and reported[int(uid)] != int(start):
                    print("violation: uid %s reported at %s and at %d" % (uid, start, reported[int(uid)]))
                    return 1
                reported[int(uid)] = int(start)
        if index:
            index_gen, bad = index_violations(index, reported, index_gen)
            index_checks += 1
            if bad:
                for b in bad[:20]:
                    print("violation: round %d: %s" % (rounds, b))
                return 1
    with open(outfile, "w") as f:
        for uid, start in sorted(reported.items()):
            f.write("%d %d\n" % (uid, start))
    print("# rounds=%d sigkills=%d killed_while_running=%d journals_left_by_a_kill=%d "
          "allocations_reported=%d" % (rounds, kills, killed_mid_run, hot_journals, len(reported)),
          flush=True)
    if index:
        d, base = os.path.split(index)
        tmp = [f for f in os.listdir(d) if f.startswith("." + base + ".")]
        print("# index checked after %d rounds, generation %d; %d temporary index files left by kills"
              % (index_checks, index_gen, len(tmp)), flush=True)
    return 0 if len(reported) >= min_allocs else 1


if __name__ == "__main__":
    sys.exit(main())
