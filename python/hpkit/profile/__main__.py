"""``python -m hpkit.profile [OPTIONS] SCRIPT [ARGS]...``: the same as ``hpkit profile``."""

from hpkit.profile._cli import profile_command

if __name__ == "__main__":
    profile_command(prog_name="python -m hpkit.profile")
