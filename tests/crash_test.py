#!/usr/bin/env python3
"""Kill allocating processes with SIGKILL at random instants.

  crash_test.py DRIVER CONF PREFIX NUSERS UID_BASE OUTFILE [MIN_ALLOCS [DB]]

Runs alloc_driver processes (the core call pam_subid makes) on random,
overlapping slices of the users PREFIX1..PREFIX<NUSERS> and SIGKILLs them
after a random delay, until at least MIN_ALLOCS allocations were reported
done.  Every reported "UID START" line goes to OUTFILE for the invariant
check.  The seed is printed; SUBID_CRASH_SEED=N replays a run.
"""
import os
import random
import signal
import subprocess
import sys
import time


def main():
    driver, conf, prefix, nusers, uid_base, outfile = sys.argv[1:7]
    min_allocs = int(sys.argv[7]) if len(sys.argv) > 7 else 1000
    journal = sys.argv[8] + "-journal" if len(sys.argv) > 8 else None
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
    with open(outfile, "w") as f:
        for uid, start in sorted(reported.items()):
            f.write("%d %d\n" % (uid, start))
    print("# rounds=%d sigkills=%d killed_while_running=%d journals_left_by_a_kill=%d "
          "allocations_reported=%d" % (rounds, kills, killed_mid_run, hot_journals, len(reported)),
          flush=True)
    return 0 if len(reported) >= min_allocs else 1


if __name__ == "__main__":
    sys.exit(main())
