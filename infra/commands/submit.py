"""`unitscope submit`: run any unitscope command as a Ray job on a cluster and follow it to the end."""

from __future__ import annotations

import argparse
import sys

from unitscope.infra import submit as jobs
from unitscope.infra.retry import LIMIT_S, retrying

from unitscope.core.errors import ConfigError

EPILOG = """\
The command after `--` runs on the cluster as `python -m unitscope COMMAND ...` (the unitscope installed
on the cluster's nodes, e.g. the image in k8s/) inside the uploaded working directory. Its input and output locations must be reachable from every node: use object
storage (s3://, gs://) or a shared mount, never a path on this machine. Credentials travel as
`--env NAME` (copied from this environment) or `--env NAME=VALUE`; they are visible to anyone who can
read the cluster's job list.

Exit status: the job's (0 when it succeeded, the command's own exit code when it failed, 1 when it
was stopped); 2 when the cluster cannot be reached or refuses the token. Ctrl-C stops following the
logs and leaves the job running (it prints how to follow or stop it) and exits 130; with
--stop-on-interrupt, Ctrl-C stops the job too. The cluster's token is taken from RAY_AUTH_TOKEN,
RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="run a unitscope command as a job on a Ray cluster",
        description="Run a unitscope command as a Ray job on a cluster, streaming its logs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--address",
        default=None,
        help="the head's dashboard URL, http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS)",
    )
    p.add_argument(
        "--working-dir", default=".", help="your folder, uploaded as the job's working directory (default: .)"
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="environment variable for the job (repeatable)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="more paths not to upload (gitignore syntax)",
    )
    p.add_argument(
        "--entrypoint-num-cpus",
        type=float,
        default=0,
        metavar="N",
        help="CPUs reserved for the command's own process (default 0: it runs on the head node)",
    )
    p.add_argument("--no-wait", action="store_true", help="print the job id and return at once")
    p.add_argument(
        "--wait-for-cluster",
        type=float,
        default=LIMIT_S,
        metavar="S",
        help=f"retry a cluster that is still starting (refused, 503, no job agent yet) for up to S seconds "
        f"(default {LIMIT_S:g})",
    )
    p.add_argument(
        "--stop-on-interrupt", action="store_true", help="Ctrl-C stops the job, not only the log stream"
    )
    p.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...", help="the unitscope command to run"
    )
    p.set_defaults(func=run)


def check_command(argv: list[str]) -> list[str]:
    """The unitscope command to submit, checked against this CLI before anything is uploaded."""
    from unitscope.infra.cli import build_parser

    argv = argv[1:] if argv[:1] == ["--"] else argv
    if not argv:
        raise ConfigError(
            "no command to submit: give one after `--`, e.g. `unitscope submit --address URL -- ingest SRC OUT`"
        )
    if argv[0] in ("submit", "jobs"):
        raise ConfigError(f"`{argv[0]}` talks to the cluster from here; run it directly, not through submit")
    build_parser().parse_args(argv)  # unknown commands or flags exit here with argparse's usage message
    return argv


def run(args: argparse.Namespace) -> int:
    argv = check_command(args.command)
    env = jobs.runtime_env(args.working_dir, jobs.parse_env(args.env), args.exclude)
    wait_s = args.wait_for_cluster
    client = retrying(lambda: jobs.connect(args.address), "submit", wait_s)
    address = client.get_address()
    job_id = jobs.new_job_id(argv)
    retrying(lambda: jobs.submit(client, argv, env, args.entrypoint_num_cpus, job_id), "submit", wait_s)
    if args.no_wait:
        print(job_id)
        print(
            f"submitted; follow it with `unitscope jobs logs {job_id} --follow --address {address}`",
            file=sys.stderr,
        )
        return 0
    print(f"submitted job {job_id}", file=sys.stderr)
    try:
        jobs.follow(client, job_id, sys.stdout)
    except KeyboardInterrupt:
        if args.stop_on_interrupt:
            jobs.stop(client, job_id)
            info = jobs.wait(client, job_id, timeout=30)
            print(
                f"\ninterrupted: asked the cluster to stop job {job_id}; it is {info.status}", file=sys.stderr
            )
        else:
            print(
                f"\ninterrupted: stopped following job {job_id}; it keeps running on the cluster.\n"
                f"  follow it: unitscope jobs logs {job_id} --follow --address {address}\n"
                f"  stop it:   unitscope jobs stop {job_id} --address {address}",
                file=sys.stderr,
            )
        return 130
    return report(client, job_id)


def report(client, job_id: str) -> int:
    """Print the job's final status and return its exit status."""
    info = jobs.wait(client, job_id)
    code = jobs.exit_code(info)
    detail = f" (exit {code}): {info.message}" if code else ""
    print(f"job {job_id} {info.status}{detail}", file=sys.stderr)
    return code
