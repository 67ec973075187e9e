"""``ringex shm ls`` and ``ringex shm rm``: find and remove stale ring segments.

A segment is stale when the process that created it (the owner pid and start time in its
header) no longer runs: the owner died without unlinking, and its resource tracker died too.
``rm`` refuses to remove a segment whose owner is alive unless ``--force`` is given.

The main CLI calls :func:`add_shm_commands` with its subparsers; every sub-command stores its
handler in ``args.func``, which takes the parsed ``args`` and returns an exit code.
``python -m ringex.ring.cli shm ls`` works on its own too.
"""

from __future__ import annotations

import argparse
import sys

from ringex.ring.segment import DEFAULT_PREFIX, list_segments, remove_segment

__all__ = ["add_shm_commands", "main"]


def add_shm_commands(subparsers) -> argparse.ArgumentParser:
    """Add ``shm ls`` and ``shm rm`` to an argparse ``subparsers`` object; returns ``shm``."""
    shm = subparsers.add_parser("shm", help="list or remove shared-memory ring segments")
    commands = shm.add_subparsers(dest="shm_command", required=True)

    ls = commands.add_parser("ls", help="list ring segments and whether their owner runs")
    ls.add_argument("--prefix", default=DEFAULT_PREFIX, help="deployment prefix of the names")
    ls.add_argument("--stale", action="store_true", help="only segments whose owner is dead")
    ls.set_defaults(func=_ls)

    rm = commands.add_parser("rm", help="unlink segments (by default only stale ones)")
    rm.add_argument("names", nargs="*", help="segment names; none means every stale one")
    rm.add_argument("--prefix", default=DEFAULT_PREFIX, help="deployment prefix of the names")
    rm.add_argument("--force", action="store_true", help="also remove segments of live owners")
    rm.set_defaults(func=_rm)
    return shm


def _ls(args) -> int:
    segments = list_segments(args.prefix)
    print(f"{'NAME':<48} {'BYTES':>12} {'MODE':>5} {'OWNER':>8}  STATE")
    for info in segments:
        if args.stale and not info.stale:
            continue
        state = "live" if info.owner_alive else "stale"
        print(f"{info.name:<48} {info.size:>12} {info.mode:>5o} {info.owner_pid:>8}  {state}")
    return 0


def _rm(args) -> int:
    segments = {info.name: info for info in list_segments(args.prefix)}
    names = args.names or [name for name, info in segments.items() if info.stale]
    status = 0
    for name in names:
        info = segments.get(name)
        if info is None:
            print(f"{name}: no such segment under prefix {args.prefix!r}", file=sys.stderr)
            status = 1
        elif not info.stale and not args.force:
            print(f"{name}: owner pid {info.owner_pid} is alive; use --force", file=sys.stderr)
            status = 1
        else:
            remove_segment(name)
            print(f"removed {name}")
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ringex")
    add_shm_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
