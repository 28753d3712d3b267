#!/usr/bin/env python3
"""Runs the workspace's Rust tests in parallel lanes; scripts/test.sh calls it.

`cargo test` runs its test binaries one after another, and most of them spend their time
waiting (on a server they started, on the AWS emulator, on a child process): one lane keeps a
2-core machine less than half busy. This runner asks cargo for the test binaries it built (the
same set `cargo test --workspace --all-features` runs, nothing is compiled again), then runs
them in LANES lanes at once, each lane with its own AWS emulator (moto), emptied before each
binary, and each binary as cargo runs it (from its package's folder). The doc tests
run as one more job (`cargo test --doc`).

    scripts/run-tests.py [--lanes N] [--again VAR=VALUE:TEST,TEST…]… [--timeout SECS]

--again runs the named integration tests of the `vitrine` package a second time with VAR set
(scripts/test.sh: the API tests again on the AWS backend, VITRINE_TEST_BACKEND=aws).

A binary's output is printed whole when it finishes, so lanes never interleave; a failed one is
printed again at the end. Exit status 0 when every binary passed, 1 otherwise. Each binary has
--timeout seconds (default 900) before it is stopped and counted as failed: a hung test fails
the run instead of holding it until CI's limit.
"""

import argparse
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Started first: the binaries that took longest on a 2-core run (the table this runner prints at
# the end), so that no lane is left with a long one at the end while the other idles. A label
# that no longer exists is harmless.
LONG_FIRST = [
    "vitrine-testkit tests/runner_faults.rs",
    "vitrine tests/sefaz.rs",
    "vitrine-nfe tests/xsd_agreement.rs",
    "vitrine tests/checkout.rs [VITRINE_TEST_BACKEND=aws]",
    "vitrine tests/crash.rs",
    "vitrine tests/catalog.rs [VITRINE_TEST_BACKEND=aws]",
]


class Job:
    def __init__(self, label, argv, cwd, env=None):
        self.label = label
        self.argv = argv
        self.cwd = cwd
        self.env = env or {}
        self.status = None  # "ok", "FAILED" or "TIMED OUT"
        self.seconds = 0.0
        self.output = ""
        self.passed = 0
        self.failed = 0


def test_binaries():
    """The test binaries `cargo test --workspace --all-features` runs, as cargo reports them."""
    listing = subprocess.run(
        ["cargo", "test", "--workspace", "--all-features", "--locked", "--no-run", "--message-format=json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if listing.returncode != 0:
        sys.stderr.write(listing.stderr)
        sys.exit("run-tests: cargo could not list the test binaries (the build failed?)")
    found = []
    for line in listing.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("profile", {}).get("test"):
            continue
        if not msg.get("executable"):
            continue
        target = msg["target"]
        package_dir = Path(msg["manifest_path"]).parent
        package = package_name(msg["package_id"], package_dir)
        src = os.path.relpath(target["src_path"], package_dir)
        kind = "unittests " if target["kind"] != ["test"] else ""
        found.append((package, f"{kind}{src}", target["name"], target["kind"], msg["executable"], package_dir))
    return found


def package_name(package_id, package_dir):
    # "path+file:///…/crates/vitrine-app#0.1.0" (new form) or "vitrine-app 0.1.0 (path+…)".
    m = re.search(r"#([A-Za-z0-9_-]+)@", package_id)
    if m:
        return m.group(1)
    if "#" in package_id:
        return package_dir.name
    return package_id.split(" ")[0]


def jobs_for(binaries, again):
    jobs = [Job(f"{p} {src}", [exe], cwd) for (p, src, _, _, exe, cwd) in binaries]
    for var, value, tests in again:
        for test in tests:
            match = [b for b in binaries if b[0] == "vitrine" and b[3] == ["test"] and b[2] == test]
            if not match:
                sys.exit(f"run-tests: --again names {test}, which is not an integration test of vitrine")
            p, src, _, _, exe, cwd = match[0]
            jobs.append(Job(f"{p} {src} [{var}={value}]", [exe], cwd, {var: value}))
    jobs.append(Job("doc tests", ["cargo", "test", "--workspace", "--all-features", "--locked", "--doc"], ROOT))
    rank = {label: i for i, label in enumerate(LONG_FIRST)}
    jobs.sort(key=lambda j: rank.get(j.label, len(LONG_FIRST)))
    return jobs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(lane):
    """A moto server for one lane: (process, url)."""
    server = ROOT / ".venv" / "bin" / "moto_server"
    if not server.exists():
        sys.exit(f"run-tests: the AWS emulator is not installed at {server} (scripts/test.sh installs it)")
    port = free_port()
    log = open(ROOT / "target" / f"moto-lane{lane}.log", "w")
    env = dict(os.environ, MOTO_RECORDER_FILEPATH=str(ROOT / "target" / f"moto-recording-lane{lane}"))
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"run-tests: moto for lane {lane} exited ({proc.returncode}); see target/moto-lane{lane}.log")
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"run-tests: moto for lane {lane} did not listen on port {port} within 60 s")


RUNNING = set()  # the test processes running now, stopped if the runner is interrupted
RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed", re.M)


def reset_emulator(moto_url):
    """Empties the lane's emulator: each binary starts on a fresh state, and the state dumps
    some tests read (`/moto-api/data.json`, which walks every object moto ever made) stay small."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def run(job, moto_url, timeout, print_lock):
    env = dict(os.environ, VITRINE_TEST_MOTO_URL=moto_url, **job.env)
    started = time.monotonic()
    try:
        reset_emulator(moto_url)
    except OSError as e:
        job.status = "FAILED"
        job.output = f"run-tests: the lane's emulator ({moto_url}) could not be emptied: {e}\n"
        with print_lock:
            print(f"\n──── {job.label}: {job.status}\n{job.output}", flush=True)
        return
    proc = subprocess.Popen(job.argv, cwd=job.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    RUNNING.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
        job.status = "ok" if proc.returncode == 0 else "FAILED"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        job.status = "TIMED OUT"
    finally:
        RUNNING.discard(proc)
    job.seconds = time.monotonic() - started
    job.output = out.decode("utf-8", "replace")
    for passed, failed in RESULT.findall(job.output):
        job.passed += int(passed)
        job.failed += int(failed)
    with print_lock:
        print(f"\n──── {job.label}: {job.status}, {job.passed} passed, {job.failed} failed, in {job.seconds:.1f} s", flush=True)
        sys.stdout.write(job.output)
        sys.stdout.flush()


def lane_worker(lane, pending, moto_url, timeout, print_lock):
    while True:
        try:
            job = pending.get_nowait()
        except queue.Empty:
            return
        run(job, moto_url, timeout, print_lock)


def parse_again(text):
    m = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=([^:]*):([\w,]+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected VAR=VALUE:TEST,TEST…, got {text!r}")
    return m.group(1), m.group(2), m.group(3).split(",")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lanes", type=int, default=2, help="binaries run at once (default 2)")
    ap.add_argument("--again", type=parse_again, action="append", default=[],
                    help="VAR=VALUE:TEST,TEST… runs those vitrine integration tests again with VAR set")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a binary may take (default 900)")
    args = ap.parse_args()
    if args.lanes < 1:
        ap.error("--lanes must be at least 1")

    # Stopped (CI cancelling the run): the finally below stops the tests and the emulators.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    jobs = jobs_for(test_binaries(), args.again)
    print(f"run-tests: {len(jobs)} jobs in {args.lanes} lanes", flush=True)
    pending = queue.Queue()
    for job in jobs:
        pending.put(job)
    print_lock = threading.Lock()
    motos = []
    started = time.monotonic()
    try:
        for lane in range(1, args.lanes + 1):
            motos.append(start_moto(lane))
        lanes = [
            threading.Thread(target=lane_worker, args=(i + 1, pending, url, args.timeout, print_lock), daemon=True)
            for i, (_, url) in enumerate(motos)
        ]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
    finally:
        for proc in list(RUNNING):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc, _ in motos:
            proc.terminate()
        for proc, _ in motos:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    wall = time.monotonic() - started

    failed = [j for j in jobs if j.status != "ok"]
    for job in failed:
        print(f"\n════ again, the output of {job.label} ({job.status})\n{job.output}")
    print("\nrun-tests: the longest binaries")
    for job in sorted(jobs, key=lambda j: -j.seconds)[:12]:
        print(f"  {job.seconds:7.1f} s  {job.label}")
    passed = sum(j.passed for j in jobs)
    busy = sum(j.seconds for j in jobs)
    print(f"run-tests: {len(jobs)} jobs, {passed} tests passed, {len(failed)} jobs failed; "
          f"{wall:.0f} s in {args.lanes} lanes ({busy:.0f} s one after another)")
    for job in failed:
        print(f"run-tests: {job.status}: {job.label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
