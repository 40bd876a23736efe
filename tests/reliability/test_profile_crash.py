"""Profiles under crashes: writers SIGKILLed at random moments.

``tests/profiles/test_store.py`` kills a writer at one chosen point (just
before the rename) and runs clean concurrent writers. Here the kill lands
anywhere: a child process saves a profile over and over, acknowledging each
save on stdout, and is killed after a random delay (15 times in CI, 100 in the
nightly-size run). After every kill the file must be byte for byte one
complete version (the last acknowledged save, or the one in flight), never a
mix, and the next writer must get the lock and sweep the temporary file left
behind. Then two writers at once (the same profile, or different ones), one
of them killed: every acknowledged save of both is there, nothing twice.
"""

from __future__ import annotations

import os
import random
import select
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.profiles import Profile, ProfileStore, SecretStore

from .conftest import scaled

KILLS = scaled(15, 100)
REPO = Path(__file__).resolve().parents[2]
SETTINGS = {
    "subscription_id": "12345678-1234-1234-1234-123456789098",
    "resource_group": "kustorptest",
    "cluster": "kustoCluster",
    "auth.method": "azure_cli",
}

#: argv: mode tag count. Saves and prints "saved <token>" after each save returns.
WORKER = textwrap.dedent(
    """
    import sys
    from workbench.profiles import Profile, ProfileConflict, ProfileStore, SecretStore
    SETTINGS = %r
    mode, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = ProfileStore(secrets=SecretStore(environ={}))
    print("ready", flush=True)
    i = 0
    while count < 0 or i < count:
        token = f"{tag}{i}"
        if mode == "rewrite":        # one profile, each save replacing the description
            loaded = store.load("prod")
            store.save(loaded.with_settings({"description": token}))
        elif mode == "append":       # one shared profile, tokens appended, conflicts redone
            while True:
                loaded = store.load("shared")
                try:
                    store.save(loaded.with_settings({"description": (loaded.description + " " + token).strip()}))
                    break
                except ProfileConflict:
                    pass
        else:                        # a profile of our own per token
            store.save(Profile.build(f"{tag}-{i}", "kusto", {**SETTINGS, "description": token}))
        print("saved " + token, flush=True)
        i += 1
    """
) % (SETTINGS,)


class Writer:
    def __init__(self, home: Path, mode: str, tag: str, count: int = -1) -> None:
        env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(REPO)}
        self.tag = tag
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, mode, tag, str(count)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._wait_for_ready()

    def _wait_for_ready(self, timeout: float = 60) -> None:
        # Byte by byte from the pipe itself: a buffered readline could swallow the first
        # "saved" line, which communicate() (reading the raw pipe) would then never see.
        fd = self.proc.stdout.fileno()
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            byte = os.read(fd, 1) if ready else b""
            if not byte:
                break
            line += byte
        if line.strip() != b"ready":
            self.proc.kill()
            raise AssertionError(f"writer did not start: {line!r} {self.proc.stderr.read()!r}")

    def kill(self) -> list[str]:
        self.proc.send_signal(signal.SIGKILL)
        return self.finish()

    def finish(self, timeout: float = 120) -> list[str]:
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"writer {self.tag} failed ({self.proc.returncode}): {err.decode()}")
        return [line.split(" ", 1)[1] for line in out.decode().splitlines() if line.startswith("saved ")]


def _store(home: Path) -> ProfileStore:
    return ProfileStore(home, secrets=SecretStore(environ={}))


def _profile(name: str, description: str) -> Profile:
    return Profile.build(name, "kusto", {**SETTINGS, "description": description})


def _litter(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(".") and p.is_file()]


def test_a_writer_killed_at_random_moments_never_leaves_a_corrupt_profile(tmp_path, report):
    home = tmp_path / "home"
    store = _store(home)
    store.save(_profile("prod", "initial"))
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    outcomes = {"old": 0, "acknowledged": 0, "in flight": 0}
    leftovers = 0
    for round_number in range(KILLS):
        before = store.load("prod").description
        writer = Writer(home, "rewrite", f"r{round_number}-")
        time.sleep(rng.uniform(0.0, 0.25))  # the random kill point is the point of this test
        acknowledged = writer.kill()

        data = store.path_for("prod").read_bytes()
        loaded = store.load("prod")  # parses and validates: never a torn file
        assert data == store.render(_profile("prod", loaded.description)), "the file is not one complete version"
        if acknowledged:
            last = int(acknowledged[-1].rsplit("-", 1)[1])
            allowed = {f"r{round_number}-{last}": "acknowledged", f"r{round_number}-{last + 1}": "in flight"}
        else:
            allowed = {before: "old", f"r{round_number}-0": "in flight"}
        assert loaded.description in allowed, (
            f"round {round_number} (seed {seed}): the file says {loaded.description!r}, "
            f"expected one of {sorted(allowed)} after {len(acknowledged)} acknowledged saves")
        outcomes[allowed[loaded.description]] += 1

        left = _litter(store.directory)
        assert len(left) <= 1 and all(p.name.startswith(".prod.toml.") for p in left), left
        for path in left:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600  # even a crash's leftover is private
        leftovers += len(left)
        assert stat.S_IMODE(store.path_for("prod").stat().st_mode) == 0o600
    # The next writer gets the lock (the dead one's flock went with it) and sweeps what was left.
    store.save(store.load("prod").with_settings({"description": "after the crashes"}))
    assert _litter(store.directory) == []
    assert store.load("prod").description == "after the crashes"
    report.add("profile crashes", f"{KILLS} writers SIGKILLed at random points (seed {seed}): file was the last "
                                  f"acknowledged save {outcomes['acknowledged']}x, the save in flight "
                                  f"{outcomes['in flight']}x, the old file {outcomes['old']}x; "
                                  f"{leftovers} temporary files left and swept; 0 corrupt")


@pytest.mark.parametrize("mode", ["append", "own"])
def test_two_writers_one_killed_lose_no_acknowledged_save(tmp_path, mode, report):
    """``append``: both edit one profile; ``own``: each saves profiles of its own."""
    home = tmp_path / "home"
    store = _store(home)
    if mode == "append":
        store.save(_profile("shared", ""))
    count = 12
    rounds = scaled(2, 20)
    rng = random.Random()
    for round_number in range(rounds):
        if mode == "append":
            store.save(store.load("shared").with_settings({"description": ""}))
        # Bounded, so the shared description stays under its 500-character rule.
        victim = Writer(home, mode, f"k{round_number}x", 40)
        survivor = Writer(home, mode, f"s{round_number}x", count)
        time.sleep(rng.uniform(0.05, 0.4))
        killed_acks = victim.kill()
        survivor_acks = survivor.finish()
        assert survivor_acks == [f"s{round_number}x{i}" for i in range(count)]

        if mode == "append":
            tokens = store.load("shared").description.split()
            assert len(tokens) == len(set(tokens)), f"a save landed twice: {tokens}"
            assert [t for t in tokens if t.startswith("s")] == survivor_acks  # all, in order
            killed = [t for t in tokens if t.startswith("k")]
            # Every acknowledged save is there; at most the one in flight beyond them.
            assert killed[: len(killed_acks)] == killed_acks and len(killed) - len(killed_acks) in (0, 1), \
                (killed, killed_acks)
        else:
            listing = store.list()
            assert not listing.errors, [str(e) for e in listing.errors]
            names = set(listing.names())
            assert {f"s{round_number}x-{i}" for i in range(count)} <= names
            killed = sorted(n for n in names if n.startswith(f"k{round_number}x-"))
            assert {f"k{round_number}x-{i}" for i in range(len(killed_acks))} <= set(killed)
            assert len(killed) - len(killed_acks) in (0, 1)
            for name in killed:
                assert store.load(name).description == name.replace("-", "")
    report.add("profile crashes", f"two writers ({'one profile' if mode == 'append' else 'own profiles'}), one "
                                  f"SIGKILLed, {rounds} rounds: no acknowledged save lost, none doubled")
