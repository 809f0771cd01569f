# Shared by the fault tests: runs strata_heat under mpiexec (bounded in time, killable as a whole
# process tree), parses the facts it prints on stdout, and computes the uninterrupted reference
# checksum each test compares against.
import argparse
import ctypes
import os
import re
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


def command(args, ranks, heat_args):
    return [args.mpiexec, "-np", str(ranks), "--oversubscribe", args.heat] + [str(a) for a in heat_args]


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


def run(args, ranks, heat_args, timeout=120, extra_env=None):
    """Runs to the end; a hang is a failure, never a stuck CTest."""
    env = mpi_env()
    env.update(extra_env or {})
    p = subprocess.run(command(args, ranks, heat_args), env=env, capture_output=True, text=True,
                       timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


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


def run_and_kill(args, ranks, heat_args, after_seconds, timeout=120, when=None):
    """Starts a run and SIGKILLs mpiexec and every process below it after `after_seconds`, or,
    with `when`, at the first moment after that when when() is true (polled every millisecond,
    for at most 5 s more) — unless it ended first. Returns (Result, killed)."""
    p = subprocess.Popen(command(args, ranks, heat_args), env=mpi_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    killed = False
    try:
        p.wait(timeout=after_seconds)
    except subprocess.TimeoutExpired:
        give_up = time.monotonic() + 5
        while when is not None and p.poll() is None and not when() and time.monotonic() < give_up:
            time.sleep(0.001)
        if p.poll() is None:
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
            killed = True
    out, err = p.communicate(timeout=timeout)
    if killed:
        kill_orphans()
    return Result(p.returncode, out, err), killed


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
