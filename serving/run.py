"""``make run``: ModelDeck under gunicorn with the settings of ``serving/gunicorn_conf.py``.

    python -m serving.run [--registry PATH_OR_URI] [--host H] [--port P]
                          [--workers N] [--threads N]

Options become the environment variables that ``app`` and the gunicorn configuration read,
then this process becomes gunicorn (the master; it stops the workers on Ctrl-C).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve ModelDeck with gunicorn.")
    p.add_argument("--registry", help="registry folder or MLflow URI "
                                      "(default: $MODELDECK_REGISTRY or the bundled sample)")
    p.add_argument("--host", default=os.environ.get("MODELDECK_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("MODELDECK_PORT", "8050")))
    p.add_argument("--workers", type=int, help="worker processes (default: see deploy.md)")
    p.add_argument("--threads", type=int, help="threads per worker (default 4)")
    args = p.parse_args(argv)
    env = os.environ
    if args.registry:
        env["MODELDECK_REGISTRY"] = args.registry
    env["MODELDECK_BIND"] = f"{args.host}:{args.port}"
    if args.workers:
        env["MODELDECK_WORKERS"] = str(args.workers)
    if args.threads:
        env["MODELDECK_THREADS"] = str(args.threads)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    os.chdir(ROOT)
    os.execv(gunicorn, [gunicorn, "-c", str(ROOT / "serving/gunicorn_conf.py"), "app:server"])


if __name__ == "__main__":
    main()
