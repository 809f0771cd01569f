# SPDX-License-Identifier: Apache-2.0
# Shared by the fault tests: runs strata_heat under mpiexec (bounded in time, killable as a whole
# process tree), parses the facts it prints on stdout, and computes the uninterrupted reference
# checksum each test compares against.
import argparse
import atexit
import ctypes
import os
import re
import selectors
import signal
import subprocess
import sys
import time


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--heat", required=True, help="the strata_heat binary")
    p.add_argument("--mpiexec", default="mpiexec")
    p.add_argument("--work", required=True, help="a scratch folder for checkpoints")
    if extra:
        extra(p)
    return p.parse_args()


def mpi_env():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    # One thread per rank: 2-core machines run several ranks at once.
    env.setdefault("STRATA_THREADS", "1")
    return env


def command(args, ranks, heat_args, nodes=None):
    """The mpiexec command line; with `nodes` ([(name, ranks), ...]) one application context per
    simulated node, each rank told its node's name through STRATA_NODE_NAME."""
    heat = [args.heat] + [str(a) for a in heat_args]
    if not nodes:
        return [args.mpiexec, "-np", str(ranks), "--oversubscribe"] + heat
    cmd = [args.mpiexec, "--oversubscribe"]
    for i, (name, count) in enumerate(nodes):
        cmd += ([":"] if i else []) + ["-np", str(count), "env", f"STRATA_NODE_NAME={name}"] + heat
    return cmd


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def fact(self, pattern):
        """The groups of the last stdout line matching `pattern`, or None."""
        found = None
        for line in self.out.splitlines():
            m = re.fullmatch(pattern, line.strip())
            if m:
                found = m
        return found

    def checksum(self):
        m = self.fact(r"checksum (0x[0-9a-f]{16})")
        return m.group(1) if m else None

    def restored(self):
        """The restored step, 0 for a fresh start, None when neither was printed."""
        if self.fact(r"fresh start"):
            return 0
        m = self.fact(r"restored step (\d+)")
        return int(m.group(1)) if m else None

    def committed(self):
        return [int(m) for m in re.findall(r"^checkpoint step (\d+)$", self.out, re.M)]

    def show(self, title):
        print(f"--- {title}: exit {self.code}")
        for line in self.out.splitlines():
            print("  out: " + line)
        for line in self.err.splitlines():
            print("  err: " + line)


# Ranks live in their own process groups, so killing mpiexec's group does not reach them, and a
# rank orphaned by mpiexec's death would leave our tree. As a child subreaper this process adopts
# such orphans, so every process a test started stays findable (and killable) below it.
kPrSetChildSubreaper = 36
ctypes.CDLL(None, use_errno=True).prctl(kPrSetChildSubreaper, 1, 0, 0, 0)


def descendants(pid):
    """Every process below `pid` (mpiexec's daemons and ranks), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def start(args, ranks, heat_args, extra_env=None, nodes=None):
    """Starts a run in its own session, stdout and stderr piped; stopped at exit if still alive."""
    env = mpi_env()
    env.update(extra_env or {})
    p = subprocess.Popen(command(args, ranks, heat_args, nodes), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    _running.append(p)
    return p


def kill_tree(p):
    """SIGKILLs mpiexec and every process below it (daemons and ranks), unless it has ended."""
    if p.poll() is not None:
        return False
    victims = descendants(p.pid)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for v in victims:
        try:
            os.kill(v, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


def finish(p, timeout, first=""):
    """Waits for a started run (a hang is a failure, never a stuck CTest nor daemons left)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        out, err = p.communicate()
        kill_orphans()
        Result(p.returncode, first + out, err).show("hung run")
        fail(f"the run did not end within {timeout} s")
    return Result(p.returncode, first + out, err)


def read_line(p, timeout):
    """The next stdout line of a started run, or '' when none came within `timeout` seconds."""
    with selectors.DefaultSelector() as s:
        s.register(p.stdout, selectors.EVENT_READ)
        return p.stdout.readline() if s.select(timeout) else ""


def run(args, ranks, heat_args, timeout=120, extra_env=None, nodes=None):
    """Runs to the end."""
    return finish(start(args, ranks, heat_args, extra_env, nodes), timeout)


def run_and_kill(args, ranks, heat_args, after_seconds, timeout=120, when=None, nodes=None):
    """Starts a run and SIGKILLs mpiexec and every process below it after `after_seconds`, or,
    with `when`, at the first moment after that when when() is true (polled every millisecond,
    for at most 5 s more) — unless it ended first. Returns (Result, killed)."""
    p = start(args, ranks, heat_args, nodes=nodes)
    killed = False
    try:
        p.wait(timeout=after_seconds)
    except subprocess.TimeoutExpired:
        give_up = time.monotonic() + 5
        while when is not None and p.poll() is None and not when() and time.monotonic() < give_up:
            time.sleep(0.001)
        killed = kill_tree(p)
    result = finish(p, timeout)
    if killed:
        kill_orphans()
    return result, killed


_running = []


@atexit.register
def _stop_running():
    """A test that fails while a run is alive (hd.check exits) leaves no daemon behind."""
    for p in _running:
        if kill_tree(p):
            p.communicate()
    kill_orphans()


def kill_orphans():
    """SIGKILLs and reaps whatever a killed run left below this process."""
    for v in descendants(os.getpid()):
        try:
            os.kill(v, signal.SIGKILL)
        except ProcessLookupError:
            pass
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def reference(args, ranks, heat_args):
    """The uninterrupted run's checksum (no checkpoints at all)."""
    r = run(args, ranks, list(heat_args) + ["--ckpt-dir", os.path.join(args.work, "reference"),
                                            "--every-steps", 0])
    if r.code != 0 or not r.checksum():
        r.show("reference run")
        fail("the uninterrupted reference run failed")
    return r.checksum()


def finish_restart(args, ranks, heat_args, nodes, expected, restored_step, level, title):
    """Runs a restart to its end and checks it restored `restored_step` from `level` ("local",
    "partner", "xor", "shared") and reached the uninterrupted checksum `expected`."""
    r = run(args, ranks, heat_args, nodes=nodes)
    check(r.code == 0, f"{title}: the restart failed", r, title)
    check(r.restored() == restored_step,
          f"{title}: restored {r.restored()}, expected step {restored_step}", r, title)
    got = r.fact(r"restore level (\w+)")
    check(got is not None and got.group(1) == level,
          f"{title}: restore level {got.group(1) if got else None}, expected {level}", r, title)
    check(r.checksum() == expected,
          f"{title}: checksum {r.checksum()} differs from the uninterrupted {expected}", r, title)
    return r


def committed_steps(folder):
    """Steps with a committed folder (step-N with a manifest), ascending. A step-N.replaced
    folder counts when step-N is missing: a kill between the two renames of a replacement leaves
    it, and the next Checkpointer renames it back (docs/formats.md, "Commit protocol")."""
    if not os.path.isdir(folder):
        return []
    found = set()
    for name in os.listdir(folder):
        m = re.fullmatch(r"step-(\d+)(\.replaced)?", name)
        if m and os.path.exists(os.path.join(folder, name, "manifest.json")):
            found.add(int(m.group(1)))
    return sorted(found)


def fresh_dir(path):
    subprocess.run(["rm", "-rf", path], check=True)
    os.makedirs(path, exist_ok=True)
    return path


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message, result=None, title="run"):
    if not condition:
        if result is not None:
            result.show(title)
        fail(message)


class Timer:
    def __init__(self):
        self.start = time.monotonic()

    def seconds(self):
        return time.monotonic() - self.start
