"""``xenon-runner instances create|rename|revoke``: manage runner instances (runner keys).

These are the three Studio routes, called with the operator's Studio account token (a
Firebase ID token), never with a runner key. ``create --count N`` mints the N keys of a
pool in one go and prints them once, as ``export`` lines plus the YAML that references
them. Exit codes: 0 success, 1 other failure, 2 usage, 3 credential rejected.

What the cloud answers (ids, names, error texts) is shown escaped and capped
(``shared.http.escape``): a control character in it cannot forge output or drive the terminal.
"""
from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from collections.abc import Callable, Sequence

from shared.cloud import CloudError, CreatedInstance, CredentialRejected, InstanceClient
from shared.config.sections import DEFAULT_CLOUD_URL
from shared.http.escape import escape_controls, shown
from shared.http.retry import RetryPolicy
from supervisor.exitcodes import EXIT_CONFIG, EXIT_CREDENTIAL_REJECTED, EXIT_ERROR, EXIT_OK

API_BASE_ENV = "RUNNER_API_BASE"
ID_TOKEN_ENV = "XENONFLARE_ID_TOKEN"
MAX_COUNT = 100  # keys minted by one command; more is almost surely a typo
CONNECT_TIMEOUT = 10.0  # seconds
READ_TIMEOUT = 30.0  # seconds
PROG = "xenon-runner instances"
SHOWN_LIMIT = 200  # characters of one id or name shown
MESSAGE_LIMIT = 2000  # characters of one error message shown

Handler = Callable[[argparse.Namespace], int]

_DESCRIPTION = """\
Create, rename or revoke XenonFlare runner instances. Each instance has one runner key
(credentialId.secret) that a runner leases jobs with; the key is shown only once, when
the instance is created.

These commands authenticate with your Studio account token (a Firebase ID token), not
with a runner key: pass it in the XENONFLARE_ID_TOKEN environment variable (preferred:
command-line flags are visible to other users in `ps`) or with --id-token."""

_EPILOG = """\
examples:
  export XENONFLARE_ID_TOKEN=...            # your Studio account token
  xenon-runner instances create --kind user --name gpu-box
  xenon-runner instances create --kind user --name gpu-box --count 4
        # four keys gpu-box-1..gpu-box-4 for a pool with one lease per key
  xenon-runner instances create --kind global --name shared   # needs an admin account
  xenon-runner instances rename --instance-id INSTANCE_ID --name gpu-box-old
  xenon-runner instances revoke --instance-id INSTANCE_ID     # its key stops working now

exit codes: 0 success, 1 cloud or network failure, 2 usage error,
            3 the ID token was rejected (expired, wrong account, or not an admin)"""

_CREATE_DESCRIPTION = """\
Create runner instances and print their runner keys (shown only this once) as `export`
lines, followed by the YAML that makes the runner read them from the environment.
With --count N the instances are named NAME-1..NAME-N (NAME defaults to this host's
name); a pool spreads its worker slots over the keys (cloud.tokens)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``instances`` command and its ``create``, ``rename``, ``revoke`` subcommands.

    ``subparsers`` is the top-level parser's ``add_subparsers()`` object; every leaf sets
    ``handler``, a function ``(args) -> exit code``.
    """
    parser = subparsers.add_parser("instances", help="create, rename or revoke runner instances (runner keys)",
                                   description=_DESCRIPTION, epilog=_EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_connection_options(parser)
    actions = parser.add_subparsers(dest="instances_action", metavar="{create,rename,revoke}", required=True)

    create = _add_action(actions, "create", summary="create instances and print their new runner keys once",
                         description=_CREATE_DESCRIPTION, handler=run_create)
    create.add_argument("--kind", choices=("user", "global"), default="user",
                        help="user: runs your own jobs (default); global: runs jobs of the global pool "
                             "(admin accounts only)")
    create.add_argument("--name", type=_non_blank, default=None,
                        help="display name in Studio → Settings → Runners (with --count: the base name)")
    create.add_argument("--count", type=_count, default=1, metavar="N",
                        help=f"how many instances (keys) to create, 1-{MAX_COUNT} (default 1)")

    rename = _add_action(actions, "rename", summary="change an instance's display name",
                         description="Change the display name of a runner instance; its key is unchanged.",
                         handler=run_rename)
    rename.add_argument("--instance-id", required=True, type=_non_blank, help="the instance to rename")
    rename.add_argument("--name", required=True, type=_non_blank, help="the new name")

    revoke = _add_action(actions, "revoke", summary="revoke an instance; its runner key stops working at once",
                         description="Revoke a runner instance. Its runner key stops working immediately: a "
                                     "runner using it gets 401/403 on its next call and stops.",
                         handler=run_revoke)
    revoke.add_argument("--instance-id", required=True, type=_non_blank, help="the instance to revoke")


def run_create(args: argparse.Namespace) -> int:
    """Create ``--count`` instances; print every key that was created, even if a later one fails."""
    names = instance_names(args.name, args.count, hostname=socket.gethostname())

    def create(client: InstanceClient) -> int:
        created: list[CreatedInstance] = []
        try:
            for name in names:
                created.append(client.create(kind=args.kind, name=name))
        finally:
            if created:
                _print_created(created, requested=len(names))
        return EXIT_OK

    return _with_client(args, create)


def run_rename(args: argparse.Namespace) -> int:
    def rename(client: InstanceClient) -> int:
        stored = client.rename(instance_id=args.instance_id, name=args.name)
        print(f"Renamed runner instance {shown(args.instance_id, SHOWN_LIMIT)} to {shown(repr(stored), SHOWN_LIMIT)}.")
        return EXIT_OK

    return _with_client(args, rename)


def run_revoke(args: argparse.Namespace) -> int:
    def revoke(client: InstanceClient) -> int:
        client.revoke(instance_id=args.instance_id)
        print(f"Revoked runner instance {shown(args.instance_id, SHOWN_LIMIT)}: its runner key no longer works.")
        return EXIT_OK

    return _with_client(args, revoke)


def instance_names(name: str | None, count: int, *, hostname: str) -> list[str | None]:
    """Names for ``count`` new instances: ``name`` alone, or ``base-1..base-N`` for a pool."""
    if count == 1:
        return [name]
    base = name or hostname.split(".")[0] or "runner"
    return [f"{base}-{index}" for index in range(1, count + 1)]


def key_variables(count: int) -> list[str]:
    """Env variable names for ``count`` keys: ``RUNNER_TOKEN`` alone, else ``RUNNER_TOKEN_1..N``."""
    if count == 1:
        return ["RUNNER_TOKEN"]
    return [f"RUNNER_TOKEN_{index}" for index in range(1, count + 1)]


def config_snippet(variables: Sequence[str]) -> str:
    """The ``cloud:`` YAML that reads the keys from ``variables`` (block style: valid YAML)."""
    if len(variables) == 1:
        return f'cloud:\n  token: "${{{variables[0]}}}"\n'
    items = "".join(f'    - "${{{variable}}}"\n' for variable in variables)
    return f"cloud:\n  tokens:\n{items}"


def _print_created(created: Sequence[CreatedInstance], *, requested: int) -> None:
    """Print the new instances, their keys once as ``export`` lines, and the config snippet."""
    variables = key_variables(requested)[:len(created)]
    print(f"Created {len(created)} runner instance{'s' if len(created) > 1 else ''} "
          f"(kind {shown(created[0].kind, SHOWN_LIMIT)}):")
    for instance in created:
        print(f"  {shown(instance.instance_id, SHOWN_LIMIT)}  name {shown(instance.name or '(none)', SHOWN_LIMIT)}"
              f"  credential {shown(instance.credential_id, SHOWN_LIMIT)}")
    print("\n# Runner keys, shown only this once:")
    for variable, instance in zip(variables, created, strict=True):
        # Never cut a key; a control character in one (never valid in a header) is shown escaped.
        print(f"export {variable}={shlex.quote(escape_controls(instance.runner_token))}")
    print("\n# Runner config (YAML):")
    print(config_snippet(variables), end="")
    sys.stdout.flush()
    print(f"warning: store {'this runner key' if len(created) == 1 else 'these runner keys'} now (e.g. in your "
          "secret manager): XenonFlare shows a key only once; a lost key can only be revoked and replaced.",
          file=sys.stderr)
    if len(created) < requested:
        print(f"{PROG}: created {len(created)} of {requested} instances before the failure below; "
              "their keys are printed above.", file=sys.stderr)


def _with_client(args: argparse.Namespace, action: Callable[[InstanceClient], int]) -> int:
    """Build the client from the flags/env, run ``action``, map failures to exit codes."""
    id_token = getattr(args, "id_token", None) or os.environ.get(ID_TOKEN_ENV)
    api_base = getattr(args, "api_base", None) or os.environ.get(API_BASE_ENV) or DEFAULT_CLOUD_URL
    if not id_token:
        return _fail(EXIT_CONFIG, f"no Studio ID token: set {ID_TOKEN_ENV} or pass --id-token "
                                 "(your Studio account token, not a runner key)")
    try:
        client = InstanceClient(base_url=api_base, id_token=id_token, connect_timeout=CONNECT_TIMEOUT,
                                read_timeout=READ_TIMEOUT, retry=RetryPolicy())
    except ValueError as exc:
        return _fail(EXIT_CONFIG, shown(exc, MESSAGE_LIMIT))
    try:
        with client:
            return action(client)
    except CredentialRejected as exc:
        return _fail(EXIT_CREDENTIAL_REJECTED, f"{shown(exc, MESSAGE_LIMIT)}\nThe ID token was rejected: it may have "
                                               "expired (they last an hour), belong to another account, or lack admin "
                                               "rights (needed for --kind global).")
    except CloudError as exc:
        return _fail(EXIT_ERROR, shown(exc, MESSAGE_LIMIT))
    except ValueError as exc:
        return _fail(EXIT_CONFIG, shown(exc, MESSAGE_LIMIT))


def _fail(code: int, message: str) -> int:
    """Print ``message`` (its untrusted parts already escaped by the caller) and return ``code``."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--api-base and --id-token, accepted before or after the action word.

    Defaults are SUPPRESSed so a subcommand's parser does not overwrite a value given
    before the action word; the handler applies env and built-in defaults.
    """
    parser.add_argument("--api-base", default=argparse.SUPPRESS, metavar="URL",
                        help=f"cloud API base URL (default: env {API_BASE_ENV}, else {DEFAULT_CLOUD_URL})")
    parser.add_argument("--id-token", default=argparse.SUPPRESS, metavar="TOKEN",
                        help=f"Studio account token (Firebase ID token); default: env {ID_TOKEN_ENV}")


def _add_action(actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, summary: str,
                description: str, handler: Handler) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=summary, description=description, epilog=_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_connection_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def _non_blank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= count <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_COUNT}, got {count}")
    return count
