"""`python -m api admin ...`: projects and API keys, made directly in the configured store.

Run it with the API's settings (`REGLAB_DATABASE_URL`, and `REGLAB_SECRET_KEY` or the same
`REGLAB_HOME`), so the keys it makes are the ones that API accepts. A raw key is printed once,
alone on stdout, and never logged.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker

from api.settings import get_settings
from models import store
from models.services import keys
from models.services.errors import ConflictError, NotFoundError
from models.store.db import make_engine, make_sessionmaker
from models.store.tables import ApiKey

NAME_LENGTH = 100  # project and key names: the columns' length
MAX_EXPIRY_DAYS = 36500
Command = Callable[[sessionmaker[Any], argparse.Namespace], None]


def _name(value: str) -> str:
    if not 1 <= len(value) <= NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"must be 1 to {NAME_LENGTH} characters")
    return value


def _scopes(value: str) -> list[str]:
    try:
        return keys.check_scopes(s.strip() for s in value.split(",") if s.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_EXPIRY_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, 1 to {MAX_EXPIRY_DAYS}")
    return int(value)


def _key_id(value: str) -> str:
    """A key id, or a whole raw key (a leaked one, pasted as found): its key id."""
    parsed = keys.parse_raw_key(value)
    if parsed is not None:
        return parsed[0]
    if len(value) != 12 or value.strip("0123456789abcdef"):
        raise argparse.ArgumentTypeError("a key id is the 12 hex digits after rl_")
    return value


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def create_project(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """Make a project."""
    project_id = keys.create_project(sessions, name=args.name)
    print(f"created project {args.name!r} (id {project_id})")


def list_projects(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """Print every project: id, name, created."""
    with sessions() as session:
        rows = [
            (str(p.id), p.name, _when(p.created_at)) for p in store.list_projects(session=session)
        ]
    _print_table([("ID", "NAME", "CREATED"), *rows])


def create_key(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """Make a key and print it, alone on stdout: it is shown this once."""
    project_id = keys.project_id(sessions, args.project)
    days = args.expires_days
    _, raw_key = keys.create_key(
        sessions,
        project_id=project_id,
        name=args.name,
        scopes=args.scopes,
        expires_at=datetime.now(UTC) + timedelta(days=days) if days else None,
        secret_key=get_settings().resolved_secret_key(),
        created_by=None,
    )
    scopes = ",".join(args.scopes)
    note = f"key {raw_key[3:15]} of project {args.project!r} ({scopes}): shown once, keep it now"
    print(note, file=sys.stderr)
    print(raw_key)


def _state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "expired" if key.expires_at is not None and key.expires_at <= now else "active"


def list_keys(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """Print the project's keys: ids, names, scopes, dates, state; never a secret."""
    project_id = keys.project_id(sessions, args.project)
    with sessions() as session:
        rows = store.list_keys(session=session, project_id=project_id)
    now = datetime.now(UTC)
    table = [("KEY ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "STATE")]
    for key in rows:
        dates = (_when(key.created_at), _when(key.expires_at), _when(key.last_used_at))
        table.append((key.key_id, key.name, ",".join(key.scopes), *dates, _state(key, now)))
    _print_table(table)


def _print_table(table: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def revoke_key(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """Revoke a key by its key id; it is refused from then on."""
    now = datetime.now(UTC)
    key = keys.revoke(sessions, key_id=args.key_id, now=now)
    if key.revoked_at == now:
        print(f"revoked key {key.key_id}")
    else:
        print(f"key {key.key_id} was revoked already, at {_when(key.revoked_at)}")


def bootstrap(sessions: sessionmaker[Any], args: argparse.Namespace) -> None:
    """First start: an admin key of project "default" into the key file, whose path is printed;
    nothing is made or printed while the file holds a key this store accepts."""
    secret_key = get_settings().resolved_secret_key()
    now = datetime.now(UTC)
    raw_key, aside = keys.bootstrap_key_file(sessions, args.key_file, secret_key, now)
    if aside is not None:
        print(
            f"warning: the key in {args.key_file} is not accepted by this store (revoked, "
            "expired, or made for another database or REGLAB_SECRET_KEY): it was moved to "
            f"{aside} and a new admin key made; scripts holding the old one get 401",
            file=sys.stderr,
        )
    if raw_key is not None:
        print(args.key_file)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=run.__doc__, description=run.__doc__)
        sub.set_defaults(run=run)
        return sub

    command("create-project", create_project).add_argument("name", type=_name)
    command("list-projects", list_projects)
    sub = command("create-key", create_key)
    sub.add_argument("--project", required=True, help="the project's name")
    sub.add_argument("--scopes", required=True, type=_scopes, help="e.g. read or read,write")
    sub.add_argument("--name", type=_name, default="admin CLI", help="what the key is for")
    sub.add_argument("--expires-days", type=_days, help="expire after this many days")
    command("list-keys", list_keys).add_argument("--project", required=True)
    sub = command("revoke-key", revoke_key)
    sub.add_argument("key_id", type=_key_id, help="the 12 hex digits after rl_ (or the whole key)")
    sub = command("bootstrap", bootstrap)
    sub.add_argument("--key-file", type=Path, required=True, help="e.g. $REGLAB_HOME/api_key")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run one admin command; 1 (with the reason on stderr) if the store refuses it."""
    args = _parser().parse_args(argv)
    try:
        engine = make_engine(get_settings().resolved_database_url())
    except ValidationError as exc:  # a setting out of bounds, e.g. a short REGLAB_SECRET_KEY
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        args.run(make_sessionmaker(engine), args)
    except (NotFoundError, ConflictError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
