"""``--profile DIR``: sample the daemon with py-spy during a benchmark phase.

py-spy is not a dependency of gitopsd; install it into the virtualenv to use
this (``.venv/bin/pip install py-spy``). Each phase writes the raw collapsed
stacks (``<phase>.txt``, for flame graph tools) and a summary of the hottest
functions by own and by inclusive samples (``<phase>.top.txt``).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

TOP = 40


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


@asynccontextmanager
async def profiled(directory: Path | None, pid: int, name: str) -> AsyncIterator[None]:
    """Sample PID while the body runs; a no-op when DIRECTORY is None."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"{name}.txt"
    with open(directory / f"{name}.log", "ab") as log:
        proc = await asyncio.create_subprocess_exec(
            py_spy(), "record", "--pid", str(pid), "--format", "raw", "--output", str(raw),
            "--rate", "100", "--nonblocking", stdout=log, stderr=subprocess.STDOUT)
    await asyncio.sleep(0.5)
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        await proc.wait()
    if raw.exists():
        (directory / f"{name}.top.txt").write_text(summarise(raw.read_text()))


def summarise(collapsed: str) -> str:
    """The hottest frames of collapsed stacks (``a;b;c N`` lines), by own and inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples", "", "own samples:"]
    lines += [f"{n:7d} {n / max(total, 1):6.1%}  {f}" for f, n in own.most_common(TOP)]
    lines += ["", "inclusive samples:"]
    lines += [f"{n:7d} {n / max(total, 1):6.1%}  {f}" for f, n in inclusive.most_common(TOP)]
    return "\n".join(lines) + "\n"
