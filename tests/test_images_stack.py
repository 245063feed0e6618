"""deploy/stack.yaml created on moto's CloudFormation server, then deploy/deploy.py against it.

The stack the images run in, as far as the emulator goes: the template is created with test
parameters (a VPC, subnets, a hosted zone, a certificate and a secret made in the emulator
first), every resource moto supports is created from it, and ``deploy/deploy.py`` rolls the
stack's own ECS services to a new tag. moto has no CloudFormation support for the resource types
in ``UNSUPPORTED``: the test removes them and puts a fixed stand-in wherever the template reads
them, and checks that moto indeed cannot create them (docs/deploy.md lists the gaps).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from testkit import moto_server

from .procs import ROOT, Service
from .test_deploy import CfnLoader

STACK = ROOT / "deploy" / "stack.yaml"
DEPLOY = ROOT / "deploy" / "deploy.py"
REGION = "eu-west-1"
#: Resource types moto 5's CloudFormation cannot create, with what stands in for their attributes.
UNSUPPORTED = {
    "AWS::ElastiCache::ReplicationGroup": {
        "PrimaryEndPoint.Address": "redis.test.internal",
        "PrimaryEndPoint.Port": "6379",
    },
    "AWS::ServiceDiscovery::Service": {
        "Arn": "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-test",
    },
}

#: Types moto's CloudFormation accepts but does not create (nothing to read back): the template
#: is created, these resources are not checked here (docs/deploy.md, "What is verified").
NOT_CREATED = {
    "AWS::CloudWatch::Alarm",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::Logs::QueryDefinition",
    "AWS::S3::BucketPolicy",
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
}


def without_unsupported(template: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The template minus the resources moto cannot create, their attributes replaced."""
    removed = {
        name: UNSUPPORTED[r["Type"]]
        for name, r in template["Resources"].items()
        if r["Type"] in UNSUPPORTED
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::GetAtt"}:
                target = node["Fn::GetAtt"]
                name, attr = target.split(".", 1) if isinstance(target, str) else target
                if name in removed:
                    return removed[name][attr]
                return {"Fn::GetAtt": [name, attr]}  # the long form, as moto reads it
            if set(node) == {"Ref"} and node["Ref"] in removed:
                return f"{node['Ref']}-stand-in"
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                text = node["Fn::Sub"]
                for name, attrs in removed.items():
                    for attr, value in attrs.items():
                        text = text.replace(f"${{{name}.{attr}}}", value)
                return {"Fn::Sub": text}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    resources = {k: v for k, v in template["Resources"].items() if k not in removed}
    for res in resources.values():
        depends = res.get("DependsOn")
        if isinstance(depends, str) and depends in removed:
            del res["DependsOn"]
        elif isinstance(depends, list):
            res["DependsOn"] = [d for d in depends if d not in removed]
    out = walk({**template, "Resources": resources})
    leftover = re.findall(r"\$\{(\w+)\.", json.dumps(out))
    assert not set(leftover) & set(removed), leftover
    return out, set(removed)


@pytest.fixture(scope="module")
def cfn_emulator(log_dir: Path) -> Iterator[Service]:
    with moto_server(log_dir, name="moto-cfn", env={"MOTO_ECS_SERVICE_RUNNING": "1"}) as moto:
        yield Service.of(moto.process)


def client(url: str, name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def created_stack(cfn_emulator: Service) -> tuple[str, set[str]]:
    url = cfn_emulator.url
    ec2 = client(url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{'abab'[i]}"
        )["Subnet"]["SubnetId"]
        for i in range(4)
    ]
    zone = client(url, "route53").create_hosted_zone(Name="shop.example.com", CallerReference="t")
    cert = client(url, "acm").request_certificate(DomainName="staging.shop.example.com")
    secret = client(url, "secretsmanager").create_secret(Name="ops", SecretString="x" * 40)
    params = {
        "Environment": "staging",
        "VpcId": vpc,
        "PublicSubnetIds": ",".join(subnets[:2]),
        "PrivateSubnetIds": ",".join(subnets[2:]),
        "HostedZoneId": zone["HostedZone"]["Id"].rpartition("/")[2],
        "DomainName": "staging.shop.example.com",
        "CertificateArn": cert["CertificateArn"],
        "ImageTag": "3f2c1ab",
        "CatalogApiUrl": "http://catalog.test.internal",
        "OrdersApiUrl": "http://orders.test.internal",
        "OpsTokenSecretArn": secret["ARN"],
        "CreateEcrRepositories": "true",
        # moto reports at most one running task per service: one, so a rollout can settle.
        "WebDesiredCount": "1",
        "BffDesiredCount": "1",
    }
    template, removed = without_unsupported(yaml.load(STACK.read_text(), Loader=CfnLoader))  # noqa: S506
    cfn = client(url, "cloudformation")
    cfn.create_stack(
        StackName="front-door-staging",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.monotonic() + 120
    while True:
        stack = cfn.describe_stacks(StackName="front-door-staging")["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        assert time.monotonic() < deadline, stack
        time.sleep(0.5)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return "front-door-staging", removed


def test_stand_ins_are_only_for_what_moto_cannot_create() -> None:
    """The gaps, exactly: the types of the template moto's CloudFormation cannot create."""
    from moto.cloudformation.parsing import get_model_map

    template = yaml.load(STACK.read_text(), Loader=CfnLoader)  # noqa: S506
    types = {r["Type"] for r in template["Resources"].values()}
    assert types - set(get_model_map()) == set(UNSUPPORTED) | NOT_CREATED


def test_stack_creates_every_supported_resource(
    cfn_emulator: Service, created_stack: tuple[str, set[str]]
) -> None:
    name, _ = created_stack
    url = cfn_emulator.url
    cfn = client(url, "cloudformation")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    # moto's ListStackResources leaves out many resource types: read them back from each API.
    elbv2 = client(url, "elbv2")
    (alb,) = elbv2.describe_load_balancers()["LoadBalancers"]
    paths = {t["HealthCheckPath"] for t in elbv2.describe_target_groups()["TargetGroups"]}
    assert paths == {"/healthz", "/"}
    listeners = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    assert sorted(lst["Port"] for lst in listeners) == [80, 443]
    groups = {g["logGroupName"] for g in client(url, "logs").describe_log_groups()["logGroups"]}
    assert {"/front-door/staging/bff", "/front-door/staging/web"} <= groups, groups
    dashboards = client(url, "cloudwatch").list_dashboards()["DashboardEntries"]
    assert [d["DashboardName"] for d in dashboards] == ["front-door-staging"], dashboards
    buckets = [b["Name"] for b in client(url, "s3").list_buckets()["Buckets"]]
    assert buckets == [f"front-door-staging-sourcemaps-123456789012-{REGION}"], buckets
    repos = client(url, "ecr").describe_repositories()["repositories"]
    assert sorted(r["repositoryName"] for r in repos) == ["front-door/bff", "front-door/web"]
    ecs = client(cfn_emulator.url, "ecs")
    services = ecs.describe_services(cluster=name, services=["web", "bff"])["services"]
    assert sorted(s["serviceName"] for s in services) == ["bff", "web"]
    for svc in services:
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        (main,) = [c for c in td["containerDefinitions"] if c["name"] == svc["serviceName"]]
        assert main["image"].endswith(f"/front-door/{svc['serviceName']}:3f2c1ab"), main["image"]
        env = {e["name"]: e["value"] for e in main.get("environment", [])}
        if svc["serviceName"] == "bff":
            assert env["BFF_RATELIMIT_STORAGE_URI"] == "rediss://redis.test.internal:6379/0"
            assert env["LOG_CLOUDWATCH_GROUP"] == "/front-door/staging/bff"


def test_deploy_rolls_the_created_stack_to_a_new_tag(
    cfn_emulator: Service, created_stack: tuple[str, set[str]]
) -> None:
    name, _ = created_stack
    ecs = client(cfn_emulator.url, "ecs")
    before = {
        s["serviceName"]: s["taskDefinition"]
        for s in ecs.describe_services(cluster=name, services=["web", "bff"])["services"]
    }
    result = subprocess.run(
        [sys.executable, str(DEPLOY), "--environment", "staging", "--image-tag", "9a8b7c6d5e4f"]
        + ["--endpoint-url", cfn_emulator.url, "--region", REGION]
        + ["--poll-interval", "0.2", "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=90,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "t"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for svc in ecs.describe_services(cluster=name, services=["web", "bff"])["services"]:
        service = svc["serviceName"]
        assert svc["taskDefinition"] != before[service]
        old = ecs.describe_task_definition(taskDefinition=before[service])["taskDefinition"]
        new = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        assert new["revision"] == old["revision"] + 1
        (container,) = [c for c in new["containerDefinitions"] if c["name"] == service]
        assert container["image"].endswith(f"/front-door/{service}:9a8b7c6d5e4f")
        (was,) = [c for c in old["containerDefinitions"] if c["name"] == service]
        assert {k: v for k, v in container.items() if k != "image"} == {
            k: v for k, v in was.items() if k != "image"
        }
