"""The `tertulia` console command: Django's management commands under one name.

`tertulia init` creates the local key files; `tertulia run` starts the embedded server;
`tertulia demo`, `tertulia createsuperuser`, `tertulia migrate` ... are management commands.
`tertulia verify-draw proof.json` checks a giveaway's draw; it needs no settings, database or
key (anyone who downloaded the proof can run it), so it is handled before Django is set up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def init(var_dir: Path | None = None, quiet: bool = False) -> None:
    """Create var/ with a secret key and a Fernet key, once. Existing keys are never replaced:
    losing the Fernet key would make every stored network token unreadable."""
    from cryptography.fernet import Fernet
    import secrets

    var_dir = Path(var_dir or os.environ.get("TERTULIA_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, make in (("secret_key", lambda: secrets.token_urlsafe(50)),
                       ("fernet.key", lambda: Fernet.generate_key().decode())):
        path = var_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(make() + "\n")
            if not quiet:
                print(f"Created {path}")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "tertulia"
    if len(argv) > 1 and argv[1] == "verify-draw":
        from tertulia.giveaways.verify_cli import main as verify_draw

        sys.exit(verify_draw(argv[2:]))
    if len(argv) > 1 and argv[1] in ("init", "run"):
        init(quiet=argv[1] == "run")
        if argv[1] == "init":
            return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tertulia.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
