# SPDX-License-Identifier: Apache-2.0
# Proves checkpoints survive kill -9 at any moment, saves included: 2-rank strata_heat runs that
# checkpoint every 5 steps are SIGKILLed (mpiexec and every rank at once) at random times — half
# of the kills aimed inside a save (a step-N.tmp folder exists) — then restarted until they end. Every restart must restore the newest complete checkpoint on disk
# (never a skipped or damaged one, never older than the last one reported committed), or start
# fresh when none committed yet, and each trial must end with the uninterrupted run's checksum.
# ctest runs 10 trials (~20 s); a longer soak by hand: the same command with --trials 200 and
# another --seed (ctest -R strata_heat_fault.kill -V prints the command).
import os
import random

import heat_driver as hd


def extra(p):
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261130)


args = hd.parse_args(extra)
hd.fresh_dir(args.work)
timer = hd.Timer()
rng = random.Random(args.seed)
print(f"seed {args.seed}, {args.trials} trials")
steps = 120
grid = ["--nx", 256, "--ny", 256, "--steps", steps, "--every-steps", 5, "--step-delay-ms", 5]
expected = hd.reference(args, 2, grid)
print(f"uninterrupted checksum {expected}")


def has_temp(folder):
    return os.path.isdir(folder) and any(n.endswith(".tmp") for n in os.listdir(folder))


kills = kills_mid_save = restores = 0
for trial in range(args.trials):
    folder = hd.fresh_dir(os.path.join(args.work, f"trial-{trial}"))
    heat_args = grid + ["--ckpt-dir", folder]
    # One or two kills per trial, each at a random moment after MPI start-up, or at the first
    # moment after it that a save is being written.
    kill_times = [(rng.uniform(0.3, 1.1), rng.random() < 0.5) for _ in range(rng.choice([1, 2]))]
    last_committed = 0
    attempts = []
    while True:
        on_disk = hd.committed_steps(folder)
        if kill_times:
            after, mid_save = kill_times.pop(0)
            result, killed = hd.run_and_kill(args, 2, heat_args, after,
                                             when=(lambda: has_temp(folder)) if mid_save else None)
        else:
            result, killed = hd.run(args, 2, heat_args), False
        title = f"trial {trial} attempt {len(attempts)}"
        restored = result.restored()
        attempts.append(f"{'killed' if killed else 'ran'} (restored {restored})")
        if restored is not None:
            newest = on_disk[-1] if on_disk else 0
            hd.check(restored == newest,
                     f"{title}: restored step {restored}, but the newest complete checkpoint on "
                     f"disk is {newest}", result, title)
            hd.check(restored >= last_committed,
                     f"{title}: restored step {restored}, older than step {last_committed} "
                     "reported committed", result, title)
            hd.check("skipped" not in result.err,
                     f"{title}: a committed checkpoint failed verification after a kill", result,
                     title)
            restores += restored > 0
        if result.committed():
            last_committed = max(last_committed, max(result.committed()))
        if killed:
            kills += 1
            kills_mid_save += has_temp(folder)
            continue
        hd.check(result.code == 0, f"{title}: the final run failed", result, title)
        hd.check(result.checksum() == expected,
                 f"{title}: checksum {result.checksum()} differs from the uninterrupted "
                 f"{expected}", result, title)
        break
    print(f"trial {trial}: {', '.join(attempts)}")

print(f"{kills} kills ({kills_mid_save} left a save unfinished), {restores} restores from a "
      f"checkpoint, {timer.seconds():.1f} s")
hd.check(restores > 0, "no trial ever restored from a checkpoint: the kills came too early")
print("PASS")
