"""`tertulia run`: the embedded mode. One command runs the web server and the Huey consumer.

It migrates, collects static files, loads the demo workspace into an empty database,
prints the demo login, and then supervises two child processes (gunicorn and run_huey):
if either dies, the other is stopped and the command exits with an error.
"""

from __future__ import annotations

import signal
import subprocess  # nosec B404 # fixed argv lists only, never a shell
import sys
import time

from django.core.management import BaseCommand, call_command


class Command(BaseCommand):
    help = "Run Tertulia (web server and job consumer) in one process group."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        # Opt-in: the demo's users share a published password, so a production install must
        # never get them by accident. `make run` asks for it.
        parser.add_argument("--demo", action="store_true",
                            help="Load the demo workspace into an empty database and print its login.")

    def handle(self, *args, host, port, web_workers, demo, **options):
        from tertulia.core.models import Organization

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if demo:
            from tertulia.core import demo as demo_workspace

            if not Organization.objects.exists():
                self.stdout.write("Loading the demo workspace (first run only)…")
                call_command("demo")
            self.stdout.write(self.style.SUCCESS(demo_workspace.login_banner(f"http://{host}:{port}/")))

        python = sys.executable
        commands = [
            # SIGINT is Huey's graceful stop: running tasks finish, nothing new starts.
            ([python, "-m", "tertulia.cli", "run_huey", "--quiet"], signal.SIGINT),
            ([
                python, "-m", "gunicorn", "tertulia.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", str(web_workers), "--threads", "4",
                # No access log: invitation links carry their secret in the path.
                "--graceful-timeout", "10", *_no_control_socket(),
            ], signal.SIGTERM),
        ]
        children: list[tuple[subprocess.Popen, int]] = []
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True
            for child, stop_signal in children:
                if child.poll() is None:
                    child.send_signal(stop_signal)

        # Handlers go in before the children start, so a signal can never leave one orphaned.
        # SIGHUP (the terminal closed) stops too: gunicorn and Huey would take it as "reload".
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, stop)
        for argv, stop_signal in commands:
            if stopping:
                break
            # Own process group: Ctrl-C in the terminal reaches only this supervisor, which then
            # stops each child once, the right way. (Both getting SIGINT and then SIGTERM made
            # gunicorn's threaded workers hang until they were killed.)
            children.append((subprocess.Popen(argv, process_group=0, preexec_fn=_die_with_parent), stop_signal))  # nosec B603 # fixed argv list (our own executables), no shell, no user input

        exit_code = 0
        try:
            while not stopping and all(child.poll() is None for child, _sig in children):
                time.sleep(0.5)
            if not stopping:
                # One child ended on its own: that is a failure even if it exited with 0.
                exit_code = next((c.returncode for c, _sig in children if c.poll() is not None and c.returncode), 1)
        finally:
            stop()
            for child, _sig in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if exit_code:
            self.stderr.write(f"A Tertulia process stopped unexpectedly (exit {exit_code}). See the log above.")
            sys.exit(exit_code if 0 < exit_code < 256 else 1)


def _die_with_parent() -> None:
    """In each child: get SIGTERM if `tertulia run` itself dies (even by SIGKILL), so a crashed
    supervisor never leaves a server holding the port. Linux only; elsewhere a no-op."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass


def _no_control_socket() -> list[str]:
    """gunicorn 25.1+ opens a control socket in ~/.gunicorn by default; a second instance on
    the same machine would fight over it, and we do not use it."""
    import gunicorn

    major, minor = (int(part) for part in gunicorn.__version__.split(".")[:2])
    return ["--no-control-socket"] if (major, minor) >= (25, 1) else []
