"""python -m bench [lifecycle api scale documents] [--quick]: run benchmarks, print their tables."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging

SIZES = {  # name -> (arguments, quick arguments for the smoke test)
    "lifecycle": ({"cases": 3}, {"cases": 1}),
    "api": ({"requests_per_client": 10}, {"requests_per_client": 2}),
    "scale": ({"small": 1_000, "large": 100_000}, {"small": 400, "large": 1_000}),
    "documents": ({"repeat": 10}, {"repeat": 2}),
}


def run(name: str, quick: bool) -> str:
    module = importlib.import_module(f"bench.{name}")
    arguments = SIZES[name][1 if quick else 0]
    result = module.run(**arguments)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of: {', '.join(SIZES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the test suite's smoke run)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SIZES]
    if unknown:  # argparse's `choices` cannot be combined with an empty default for nargs="*"
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    logging.basicConfig(level=logging.WARNING)
    for name in args.names or SIZES:
        print(run(name, args.quick), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
