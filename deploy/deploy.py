#!/usr/bin/env python
"""Roll the web and BFF ECS services to an image tag.

For each service: read its current task definition, register a new revision identical but for
the container image (``<same repository>:<tag>``), point the service at it, then wait until
every service has settled on the new revision with its desired count running.

    python deploy/deploy.py --environment staging --image-tag 3f2c1ab
    python deploy/deploy.py --environment production --image-tag v1.4.0 --region eu-west-1

The environment and tag are checked before any AWS call: a bad one exits 2 with one line.
Exit codes: 0 deployed, 1 AWS error or not stable in time, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

ENVIRONMENTS = ("staging", "production")
TAG_PATTERN = re.compile(r"^(?:[0-9a-f]{7,40}|v\d+\.\d+\.\d+)$")
SERVICES = ("web", "bff")  # ECS service names and container names in deploy/stack.yaml
CLUSTER_TEMPLATE = "front-door-{environment}"  # the stack's cluster name

# Fields of DescribeTaskDefinition's output that RegisterTaskDefinition accepts back.
REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


class DeployError(Exception):
    """A deployment step failed; the message is one line for the operator."""


@dataclass(frozen=True)
class Options:
    environment: str
    image_tag: str
    cluster: str
    services: tuple[str, ...]
    region: str | None
    endpoint_url: str | None
    timeout: float
    poll_interval: float


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description="Deploy an image tag to the ECS services.")
    parser.add_argument("--environment", required=True, help=f"one of {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--image-tag", required=True, help="git sha (7-40 hex) or vX.Y.Z")
    parser.add_argument("--cluster", help="ECS cluster (default: front-door-<environment>)")
    parser.add_argument(
        "--services", default=",".join(SERVICES), help="comma-separated (default: web,bff)"
    )
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--endpoint-url", help="ECS endpoint (an emulator in tests)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for stable")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="seconds between checks")
    args = parser.parse_args(argv)
    services = tuple(s.strip() for s in str(args.services).split(",") if s.strip())
    return Options(
        environment=args.environment,
        image_tag=args.image_tag,
        cluster=args.cluster or CLUSTER_TEMPLATE.format(environment=args.environment),
        services=services,
        region=args.region,
        endpoint_url=args.endpoint_url,
        timeout=args.timeout,
        poll_interval=args.poll_interval,
    )


def validate(options: Options) -> str | None:
    """The problem with the arguments, as one line, or None. Makes no AWS call."""
    if options.environment not in ENVIRONMENTS:
        return (
            f"unknown environment {options.environment!r} (expected one of "
            f"{', '.join(ENVIRONMENTS)})"
        )
    if not TAG_PATTERN.fullmatch(options.image_tag):
        return (
            f"invalid image tag {options.image_tag!r} (expected a 7-40 character lowercase "
            "git sha or vMAJOR.MINOR.PATCH)"
        )
    unknown = [s for s in options.services if s not in SERVICES]
    if unknown or not options.services:
        return f"unknown services {unknown!r} (expected a subset of {', '.join(SERVICES)})"
    if options.timeout <= 0 or options.poll_interval <= 0:
        return "--timeout and --poll-interval must be positive"
    return None


def with_tag(image: str, tag: str) -> str:
    """``registry/repo:old`` or ``registry/repo@sha256:...`` -> ``registry/repo:tag``."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    colon = repository.rfind(":")
    if colon > slash:  # a tag, not a registry port
        repository = repository[:colon]
    return f"{repository}:{tag}"


def new_revision_request(
    task_definition: dict[str, Any], container: str, tag: str
) -> dict[str, Any]:
    """RegisterTaskDefinition arguments: the same definition with ``container``'s image swapped."""
    request = {k: task_definition[k] for k in REGISTER_FIELDS if task_definition.get(k)}
    containers = [dict(c) for c in request["containerDefinitions"]]
    matched = [c for c in containers if c.get("name") == container]
    if len(matched) != 1:
        names = ", ".join(str(c.get("name")) for c in containers)
        raise DeployError(
            f"task definition {task_definition['family']} has no container "
            f"{container!r} (has: {names})"
        )
    matched[0]["image"] = with_tag(str(matched[0]["image"]), tag)
    request["containerDefinitions"] = containers
    return request


def roll_service(ecs: ECSClient, cluster: str, service: str, tag: str) -> str:
    """Register the new revision and point the service at it; returns its ARN."""
    found = ecs.describe_services(cluster=cluster, services=[service])
    if not found["services"] or found["services"][0].get("status") != "ACTIVE":
        raise DeployError(f"service {service!r} not found in cluster {cluster!r}")
    current_arn = found["services"][0]["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition=current_arn, include=["TAGS"])
    request: dict[str, Any] = new_revision_request(dict(described["taskDefinition"]), service, tag)
    if described.get("tags"):
        request["tags"] = described["tags"]
    registered = ecs.register_task_definition(**request)
    new_arn = registered["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=new_arn)
    print(f"{service}: {current_arn.rsplit('/', 1)[-1]} -> {new_arn.rsplit('/', 1)[-1]}")
    return new_arn


def unsettled(ecs: ECSClient, cluster: str, targets: dict[str, str]) -> list[str]:
    """Services not yet settled on their new revision: the condition of ECS's own
    ``services_stable`` waiter (one deployment, running == desired) plus the revision check.
    A rollout ECS marked FAILED (deployment circuit breaker) stops the wait at once."""
    described = ecs.describe_services(cluster=cluster, services=list(targets))
    waiting = []
    for svc in described["services"]:
        name = svc["serviceName"]
        deployments = svc.get("deployments", [])
        if any(d.get("rolloutState") == "FAILED" for d in deployments):
            raise DeployError(f"{name}: the deployment failed (ECS rolled it back)")
        if (
            svc.get("taskDefinition") != targets[name]
            or len(deployments) != 1
            or svc.get("runningCount") != svc.get("desiredCount")
        ):
            waiting.append(name)
    return waiting


def wait_stable(
    ecs: ECSClient,
    cluster: str,
    targets: dict[str, str],
    timeout: float,
    poll_interval: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    deadline = clock() + timeout
    while True:
        waiting = unsettled(ecs, cluster, targets)
        if not waiting:
            return
        if clock() >= deadline:
            raise DeployError(f"not stable after {timeout:g} s: {', '.join(waiting)}")
        time.sleep(min(poll_interval, max(0.0, deadline - clock())))


def deploy(options: Options) -> None:
    session = boto3.session.Session(region_name=options.region)
    ecs: ECSClient = session.client("ecs", endpoint_url=options.endpoint_url)
    targets = {
        s: roll_service(ecs, options.cluster, s, options.image_tag) for s in options.services
    }
    wait_stable(ecs, options.cluster, targets, options.timeout, options.poll_interval)
    print(f"deployed {options.image_tag} to {options.environment} ({', '.join(targets)})")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    problem = validate(options)
    if problem:
        print(f"deploy: {problem}", file=sys.stderr)
        return 2
    try:
        deploy(options)
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"deploy: AWS error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
