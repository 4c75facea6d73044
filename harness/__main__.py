import os
import sys

from harness.cli import main


def _run() -> int:
    # A closed standard stream (`>&-`, a daemon) is None in Python: what would go there is dropped, as writing to a
    # closed descriptor drops it, and the command still does its work (a run still writes its records).
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    # A terminal or pipe that cannot encode a character (an ASCII locale and the "×" of a label) gets an escape, not
    # a UnicodeEncodeError halfway through a table.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a command killed by SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


sys.exit(_run())
