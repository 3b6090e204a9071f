"""`tertulia run`: the embedded mode. One command runs the web server and the Huey consumer.

It migrates, collects static files, loads the demo workspace into an empty database,
prints the demo login, and then supervises two child processes (gunicorn and run_huey):
if either dies, the other is stopped and the command exits with an error.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.core.management import BaseCommand, call_command


class Command(BaseCommand):
    help = "Run Tertulia (web server and job consumer) in one process group."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo workspace.")

    def handle(self, *args, host, port, web_workers, no_demo, **options):
        from tertulia.core.models import Organization

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_demo:
            from tertulia.core import demo

            if not Organization.objects.exists():
                self.stdout.write("Loading the demo workspace (first run only)…")
                call_command("demo")
            self.stdout.write(self.style.SUCCESS(demo.login_banner(f"http://{host}:{port}/")))

        python = sys.executable
        children = [
            subprocess.Popen([python, "-m", "tertulia.cli", "run_huey", "--quiet"]),
            subprocess.Popen([
                python, "-m", "gunicorn", "tertulia.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", str(web_workers), "--threads", "4", "--access-logfile", "-",
                "--graceful-timeout", "10",
            ]),
        ]

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        exit_code = 0
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            exit_code = next((c.returncode for c in children if c.poll() is not None and c.returncode), 0)
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        if exit_code:
            self.stderr.write(f"A Tertulia process stopped unexpectedly (exit {exit_code}). See the log above.")
            sys.exit(exit_code)
