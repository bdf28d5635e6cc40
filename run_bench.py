#!/usr/bin/env python3
"""Thin entry to the psybench CLI: `python run_bench.py [run flags]` = `psybench run [run flags]`;
`python run_bench.py COMMAND ...` runs any other psybench command."""
import sys

from psybench.cli import COMMAND_MODULES, main

if __name__ == "__main__":  # guard needed: vLLM workers use the spawn start method
    argv = sys.argv[1:]
    if not argv or argv[0] not in COMMAND_MODULES + ("-h", "--help", "--version"):
        argv = ["run", *argv]
    sys.exit(main(argv))
