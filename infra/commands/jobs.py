"""`unitscope jobs list|logs|stop`: the rest of a submitted job's life on a Ray cluster."""

from __future__ import annotations

import argparse
import sys

from unitscope.infra import submit as jobs
from unitscope.infra.commands.submit import report


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--address",
        default=None,
        help="the head's dashboard URL, http://HEAD:8265 (default: $RAY_API_SERVER_ADDRESS)",
    )
    p = subparsers.add_parser(
        "jobs",
        help="list, follow or stop jobs on a Ray cluster",
        description="The rest of a submitted job's life: list the cluster's jobs, show or follow a job's "
        "logs, stop a job.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="jobs on the cluster, newest last").set_defaults(
        func=list_jobs
    )
    logs = actions.add_parser("logs", parents=[common], help="a job's logs so far (--follow: until it ends)")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument(
        "--follow", action="store_true", help="keep streaming until the job ends; exit with its status"
    )
    logs.set_defaults(func=show_logs)
    stop = actions.add_parser("stop", parents=[common], help="stop a running job")
    stop.add_argument("job_id", metavar="ID")
    stop.set_defaults(func=stop_job)


def list_jobs(args: argparse.Namespace) -> int:
    client = jobs.connect(args.address)
    for info in sorted(client.list_jobs(), key=lambda i: i.start_time or 0):
        print(jobs.describe(info))
    return 0


def show_logs(args: argparse.Namespace) -> int:
    client = jobs.connect(args.address)
    jobs.details(client, args.job_id)
    if not args.follow:
        sys.stdout.write(client.get_job_logs(args.job_id))
        return 0
    jobs.follow(client, args.job_id, sys.stdout)
    return report(client, args.job_id)


def stop_job(args: argparse.Namespace) -> int:
    client = jobs.connect(args.address)
    if not jobs.stop(client, args.job_id):
        info = jobs.details(client, args.job_id)
        print(f"job {args.job_id} had already ended: {info.status}", file=sys.stderr)
        return 0
    info = jobs.wait(client, args.job_id, timeout=30)
    print(f"job {args.job_id} {info.status}", file=sys.stderr)
    return 0
