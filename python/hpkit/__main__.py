"""``python -m hpkit``: the same command as ``hpkit``."""

from hpkit.cli import main

main(prog_name="hpkit")
