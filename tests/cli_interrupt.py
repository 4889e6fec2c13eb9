"""Ctrl-C on the `pbit` command line, as a user presses it: start the command in a subprocess, wait
until it is under way, send SIGINT, and hand back its exit status and stderr."""
import signal
import subprocess
import sys
import time


def interrupt_pbit(args, started, timeout: float = 120.0) -> tuple:
    """Run `pbit ARGS…`; once started(proc) says the work is under way, wait half a second more and
    send SIGINT.  Returns (exit status, stderr).  started(proc) may read the process's stderr."""
    # Ctrl-C's default action, as in a terminal: a shell that starts the test run in the background
    # (`pytest … &` without job control) hands every child SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-m", "pbitlang.cli.pbit", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not started(proc):
        assert time.monotonic() < deadline and proc.poll() is None, "the command never got under way"
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr
