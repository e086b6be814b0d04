"""``python -m alerts --settings alerts.toml [--registry …] [--state-dir …]``: check the alert
rules against the registry, send each new alert once, and send the digest when it is due.
docs/alerts.md describes the settings file; ``alerts.run`` the exit status."""
from __future__ import annotations

import argparse
import logging
import sys

from .run import UNUSABLE, Options, Report, run
from .settings import SettingsError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alerts",
        description="Check ModelDeck's alert rules against a registry, send each new alert "
                    "once (e-mail, webhook), and e-mail the portfolio digest when it is due.")
    parser.add_argument("--settings", required=True,
                        help="the alert settings file (TOML; docs/alerts.md)")
    parser.add_argument("--registry", default="",
                        help="registry folder or MLflow URI (default: the settings file's "
                             "'registry', else MODELDECK_REGISTRY, else the sample)")
    parser.add_argument("--state-dir", default="",
                        help="where delivered alerts are recorded (default: the settings "
                             "file's 'state_dir', else $MODELDECK_STATE_DIR/alerts)")
    parser.add_argument("--no-digest", action="store_true",
                        help="do not send the digest on this run, even when it is due")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the rules and print the alerts; send nothing, record "
                             "no delivery")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = Report(echo=lambda line: print(line, flush=True))
    try:
        settings = load(args.settings)
    except SettingsError as e:
        print(f"The settings could not be read: {e}", file=sys.stderr)
        return UNUSABLE
    status = run(settings, Options(registry=args.registry, state_dir=args.state_dir,
                                   digest=not args.no_digest, dry_run=args.dry_run), report)
    return status


if __name__ == "__main__":
    sys.exit(main())
