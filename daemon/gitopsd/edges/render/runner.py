"""The guarded way to run a rendering tool (kustomize, helm) as a subprocess.

A renderer runs code that arrives with a Git commit, so every run is fenced:
no shell, its own process group (killed as a whole on timeout, on an output
overflow or when the caller is cancelled, and always reaped), stdout capped in
size, stderr kept only as a short tail, and an environment built from scratch
so that nothing of the daemon's own environment (tokens, kubeconfigs, cloud
credentials) reaches the tool. This module knows nothing about any particular
tool; it must not interpret the tool's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gitopsd.errors import RenderError, SourceTooLarge

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
STDERR_TAIL_BYTES = 64 * 1024
STDERR_TAIL_LINES = 20
STDERR_LINE_CHARS = 500


@dataclass(frozen=True)
class Limits:
    """Bounds on one tool run: wall-clock seconds and bytes of stdout."""

    timeout: float = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT


def scrubbed_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A fresh environment: PATH and LANG inherited, HOME and TMPDIR private, plus ``extra``."""
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    }
    env.update(extra or {})
    return env


def stderr_tail(raw: bytes, replacements: Mapping[str, str] | None = None) -> str:
    """The last lines of a tool's stderr, decoded, with paths rewritten, each line bounded."""
    text = raw.decode("utf-8", errors="replace")
    for old, new in (replacements or {}).items():
        if old:
            text = text.replace(old, new)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    lines = lines[-STDERR_TAIL_LINES:]
    return "\n".join(
        line if len(line) <= STDERR_LINE_CHARS else line[:STDERR_LINE_CHARS] + "..."
        for line in lines)


def _detail(summary: str, tail: str) -> str:
    if not tail:
        return summary
    return f"{summary}: {tail}" if "\n" not in tail else f"{summary}:\n{tail}"


class _Collector(asyncio.Protocol):
    """Reads one of the tool's pipes without ever pausing, to EOF or until closed.

    With ``cap`` it keeps everything up to ``cap`` bytes and calls ``on_overflow``
    once past it; without, it keeps only the last ``tail`` bytes.
    """

    def __init__(self, *, cap: int = 0, tail: int = 0,
                 on_overflow: Callable[[], None] | None = None) -> None:
        self.cap = cap
        self.tail = tail
        self.on_overflow = on_overflow
        self.size = 0
        self.overflowed = False
        self.buffer = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        if self.overflowed:
            return
        if self.cap and self.size > self.cap:
            self.overflowed = True
            self.buffer.clear()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self.buffer += data
        if self.tail and len(self.buffer) > self.tail:
            del self.buffer[:-self.tail]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _attach(loop: asyncio.AbstractEventLoop, pipe: BinaryIO,
                  collector: _Collector) -> asyncio.ReadTransport:
    transport, _ = await loop.connect_read_pipe(lambda: collector, pipe)
    return transport


async def _spawn(argv: Sequence[str], env: dict[str, str], cwd: Path | None,
                 out_fd: int, err_fd: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out_fd, stderr=err_fd,
        env=env, cwd=cwd, start_new_session=True)


async def run_tool(
    argv: Sequence[str],
    *,
    label: str,
    subject: str,
    home: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    limits: Limits = Limits(),
    replacements: Mapping[str, str] | None = None,
) -> str:
    """Run ``argv`` and return its stdout as text, or raise RenderError.

    Output past ``limits.max_output`` kills the tool and raises ``SourceTooLarge``
    (a RenderError) before any of it is decoded.

    ``label`` names the tool run in messages ("kustomize build"), ``subject``
    the repository path being rendered. ``home`` is a private directory used
    as HOME and TMPDIR; ``env`` adds tool-specific variables to the scrubbed
    environment. ``replacements`` rewrite absolute paths in stderr (the
    temporary tree root, for instance) before they reach an error message.
    """
    # Own pipes rather than asyncio's: they are read without back-pressure and can
    # be closed at any time, so a killed tool can never leave a reader hanging.
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = await _spawn(argv, scrubbed_env(home, env), cwd, out_w, err_w)
    except OSError as exc:
        for fd in (out_r, err_r):
            os.close(fd)
        reason = exc.strerror or type(exc).__name__
        raise RenderError(
            f"{label} could not start for {subject!r}: {reason}: {argv[0]}") from None
    finally:
        os.close(out_w)
        os.close(err_w)
    loop = asyncio.get_running_loop()
    out = _Collector(cap=limits.max_output, on_overflow=lambda: _kill_group(proc.pid))
    err = _Collector(tail=STDERR_TAIL_BYTES)
    pipes = [os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)]
    transports: list[asyncio.ReadTransport] = []
    try:
        for pipe, collector in zip(pipes, (out, err), strict=True):
            transports.append(await _attach(loop, pipe, collector))
        async with asyncio.timeout(limits.timeout):
            await out.closed
            await err.closed
            code = await proc.wait()
    except TimeoutError:
        if out.overflowed:
            raise SourceTooLarge(
                f"{label} output for {subject!r} exceeded {limits.max_output} bytes") from None
        raise RenderError(
            f"{label} timed out after {limits.timeout:g}s for {subject!r}") from None
    finally:
        # The group is the tool and anything it started; none of it may outlive the run.
        _kill_group(proc.pid)
        for transport in transports:
            transport.close()
        for pipe in pipes[len(transports):]:
            pipe.close()
        await proc.wait()
    if out.overflowed:
        raise SourceTooLarge(
            f"{label} output for {subject!r} exceeded {limits.max_output} bytes")
    if code != 0:
        status = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        tail = stderr_tail(bytes(err.buffer), replacements)
        raise RenderError(_detail(f"{label} failed for {subject!r} ({status})", tail))
    try:
        return out.buffer.decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError(f"{label} output for {subject!r} is not UTF-8 text") from None
