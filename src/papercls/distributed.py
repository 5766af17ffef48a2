"""Training with several processes (data parallel): whether this process is one of several
started by a launcher (``torchrun``, ``accelerate launch``, ``mpirun``), which of them writes the
outputs, and the relaunch of a train stage under ``torchrun`` when its params section asks for
``processes`` > 1.

Accelerate starts a distributed run on CPUs (gloo) only when told ``cpu=True``; without it a
launched process on a machine without a GPU sees one process of one, so every process would
train on every row by itself. :func:`force_cpu` says when to tell it.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

# The world-size variables that Accelerate reads (torchrun / accelerate launch, MPI).
WORLD_SIZE_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def world_size_env() -> int:
    """The number of processes a launcher started (1 when none did)."""
    for name in WORLD_SIZE_ENV:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return max(1, int(value))
    return 1


def launched() -> bool:
    """Whether this process is one of several started by a launcher."""
    return world_size_env() > 1


def force_cpu() -> bool:
    """``cpu`` for Accelerate: True for launched processes on a machine without a GPU."""
    if not launched():
        return False
    import torch

    return not torch.cuda.is_available()


def _state():
    from accelerate import PartialState

    return PartialState(cpu=force_cpu())


def is_main_process() -> bool:
    """True in a single process and in the main one of several (the one that writes)."""
    return not launched() or _state().is_main_process


def wait_for_everyone() -> None:
    """A barrier over the launched processes (nothing in a single process)."""
    if launched():
        _state().wait_for_everyone()


def launcher_command(processes: int, script: str, args: list[str]) -> list[str]:
    """``torchrun`` (as ``python -m torch.distributed.run``) starting ``processes`` copies of
    ``script args`` on this machine, on a free port (``--standalone``)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={int(processes)}",
        str(script),
        *args,
    ]


def launcher_env(processes: int) -> dict[str, str]:
    """This environment, with OMP_NUM_THREADS (unless set) sharing the cores among the
    processes (torchrun would set it to 1)."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(processes)))
    return env


def relaunch(processes: int, script: str, args: list[str]) -> NoReturn:
    """Replace this process by :func:`launcher_command` (its exit status becomes this one's;
    signals reach torchrun, which passes them on to the processes)."""
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = launcher_command(processes, script, args)
    os.execve(cmd[0], cmd, launcher_env(processes))
