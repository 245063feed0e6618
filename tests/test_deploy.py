"""deploy/deploy.py against a real ECS emulator (moto server): new revisions, services updated,
and bad arguments refused before any API call."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from testkit import moto_server

from .procs import BIN, ROOT, Service, free_port

DEPLOY = ROOT / "deploy" / "deploy.py"
_spec = importlib.util.spec_from_file_location("deploy_script", DEPLOY)
assert _spec and _spec.loader
deploy_module = importlib.util.module_from_spec(_spec)
sys.modules["deploy_script"] = deploy_module
_spec.loader.exec_module(deploy_module)
REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture(scope="module")
def ecs_emulator(log_dir: Path) -> Iterator[Service]:
    """A moto server whose ECS services report their desired count as running."""
    with moto_server(log_dir, name="moto-ecs", env={"MOTO_ECS_SERVICE_RUNNING": "1"}) as moto:
        yield Service.of(moto.process)


def ecs_client(url: str) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def make_cluster(url: str, bff_desired: int = 1) -> str:
    """A fresh cluster with web and bff services shaped like deploy/stack.yaml's."""
    ecs = ecs_client(url)
    name = f"front-door-test-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=name)
    for service in ("web", "bff"):
        registered = ecs.register_task_definition(
            family=f"{name}-{service}",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            executionRoleArn="arn:aws:iam::123456789012:role/exec",
            taskRoleArn=f"arn:aws:iam::123456789012:role/{service}",
            containerDefinitions=[
                {
                    "name": service,
                    "image": f"{REGISTRY}/front-door/{service}:0000000",
                    "essential": True,
                    "environment": [{"name": "BFF_TRUSTED_PROXIES", "value": "1"}],
                    "stopTimeout": 30,
                },
                {"name": "sidecar", "image": "public.ecr.aws/x/sidecar:1", "essential": False},
            ],
            tags=[{"key": "app", "value": "front-door"}],
        )
        ecs.create_service(
            cluster=name,
            serviceName=service,
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
            desiredCount=bff_desired if service == "bff" else 1,
            launchType="FARGATE",
        )
    return name


@pytest.fixture
def cluster(ecs_emulator: Service) -> str:
    return make_cluster(ecs_emulator.url)


def run_deploy(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEPLOY), *args, "--endpoint-url", url, "--region", REGION],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **CREDENTIALS},
        check=False,
    )


def revisions(url: str, cluster: str, service: str) -> list[str]:
    return list(
        ecs_client(url).list_task_definitions(familyPrefix=f"{cluster}-{service}")[
            "taskDefinitionArns"
        ]
    )


def test_deploy_registers_new_revisions_and_updates_both_services(
    ecs_emulator: Service, cluster: str
) -> None:
    url = ecs_emulator.url
    args = ("--environment", "staging", "--image-tag", "3f2c1ab", "--cluster", cluster)
    result = run_deploy(url, *args, "--poll-interval", "0.2", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    assert "deployed 3f2c1ab to staging" in result.stdout
    ecs = ecs_client(url)
    described = ecs.describe_services(cluster=cluster, services=["web", "bff"])["services"]
    for svc in described:
        name = svc["serviceName"]
        assert svc["taskDefinition"].endswith(f"{cluster}-{name}:2")
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
        containers = {c["name"]: c for c in td["taskDefinition"]["containerDefinitions"]}
        assert containers[name]["image"] == f"{REGISTRY}/front-door/{name}:3f2c1ab"
        # Everything else is carried over unchanged.
        assert containers["sidecar"]["image"] == "public.ecr.aws/x/sidecar:1"
        assert containers[name]["environment"] == [{"name": "BFF_TRUSTED_PROXIES", "value": "1"}]
        assert containers[name]["stopTimeout"] == 30
        assert td["taskDefinition"]["taskRoleArn"].endswith(f"role/{name}")
        assert td["taskDefinition"]["cpu"] == "256"
        assert td["tags"] == [{"key": "app", "value": "front-door"}]

    # A release tag on the same services: revision 3, the image's repository unchanged.
    result = run_deploy(
        url,
        "--environment",
        "production",
        "--image-tag",
        "v1.2.3",
        "--cluster",
        cluster,
        "--poll-interval",
        "0.2",
    )
    assert result.returncode == 0, result.stderr
    svc = ecs.describe_services(cluster=cluster, services=["bff"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert svc["taskDefinition"].endswith(":3")
    assert td["containerDefinitions"][0]["image"] == f"{REGISTRY}/front-door/bff:v1.2.3"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--environment", "prod", "--image-tag", "3f2c1ab"), "unknown environment 'prod'"),
        (("--environment", "staging", "--image-tag", "latest"), "invalid image tag 'latest'"),
        (("--environment", "staging", "--image-tag", "3F2C1AB"), "invalid image tag"),
        (("--environment", "staging", "--image-tag", "abc"), "invalid image tag"),
        (("--environment", "staging", "--image-tag", "v1.2"), "invalid image tag"),
        (("--environment", "staging", "--image-tag", "v1.2.3;rm"), "invalid image tag"),
    ],
)
def test_bad_arguments_are_refused_before_any_api_call(
    ecs_emulator: Service, cluster: str, args: tuple[str, ...], message: str
) -> None:
    before = {s: revisions(ecs_emulator.url, cluster, s) for s in ("web", "bff")}
    result = run_deploy(ecs_emulator.url, *args, "--cluster", cluster)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert {s: revisions(ecs_emulator.url, cluster, s) for s in ("web", "bff")} == before
    # No request reached the emulator at all: the refusal happens before a client exists.
    # (Unreachable endpoint: the same arguments fail identically with nothing listening.)
    dead = f"http://127.0.0.1:{free_port()}"
    again = run_deploy(dead, *args, "--cluster", cluster)
    assert again.returncode == 2 and again.stderr == result.stderr


def test_missing_service_fails_with_one_line(ecs_emulator: Service, cluster: str) -> None:
    result = run_deploy(
        ecs_emulator.url,
        "--environment",
        "staging",
        "--image-tag",
        "3f2c1ab",
        "--cluster",
        f"{cluster}-absent",
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_not_stable_in_time_fails(ecs_emulator: Service) -> None:
    """A service whose tasks never all run (the emulator runs 1 of 2): bounded wait, exit 1."""
    cluster = make_cluster(ecs_emulator.url, bff_desired=2)
    result = run_deploy(
        ecs_emulator.url,
        *("--environment", "staging", "--image-tag", "3f2c1ab", "--cluster", cluster),
        *("--timeout", "1", "--poll-interval", "0.2"),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "deploy: not stable after 1 s: bff"


# --- deploy/stack.yaml ------------------------------------------------------------------------

STACK = ROOT / "deploy" / "stack.yaml"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, each read as ``{"Fn::X" or "Ref": value}``."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    doc = yaml.load(STACK.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    assert isinstance(doc, dict)
    return doc


def resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in stack["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--include-checks", "I", "--", str(STACK)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_parameters(stack: dict[str, Any]) -> None:
    params = stack["Parameters"]
    for name in (
        "VpcId",
        "PublicSubnetIds",
        "PrivateSubnetIds",
        "HostedZoneId",
        "DomainName",
        "CertificateArn",
        "ImageTag",
        "Environment",
        "WebDesiredCount",
        "BffDesiredCount",
    ):
        assert name in params, name
    assert params["Environment"]["AllowedValues"] == ["staging", "production"]
    # The template and deploy.py accept the same tags.
    pattern = re.compile(params["ImageTag"]["AllowedPattern"])
    for tag in ("3f2c1ab", "0" * 40, "v1.2.3", "latest", "3F2C1AB", "v1.2", "abc"):
        assert bool(pattern.fullmatch(tag)) == bool(deploy_module.TAG_PATTERN.fullmatch(tag)), tag
    assert tuple(params["Environment"]["AllowedValues"]) == deploy_module.ENVIRONMENTS


def test_stack_names_match_deploy_script(stack: dict[str, Any]) -> None:
    (cluster,) = resources(stack, "AWS::ECS::Cluster").values()
    assert cluster["Properties"]["ClusterName"] == {
        "Fn::Sub": deploy_module.CLUSTER_TEMPLATE.replace("{environment}", "${Environment}")
    }
    services = resources(stack, "AWS::ECS::Service").values()
    assert sorted(s["Properties"]["ServiceName"] for s in services) == sorted(
        deploy_module.SERVICES
    )
    for svc in services:
        lbs = svc["Properties"]["LoadBalancers"]
        assert [lb["ContainerName"] for lb in lbs] == [svc["Properties"]["ServiceName"]]
        assert svc["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
            "Enable": True,
            "Rollback": True,
        }


def container(stack: dict[str, Any], name: str) -> dict[str, Any]:
    for td in resources(stack, "AWS::ECS::TaskDefinition").values():
        for c in td["Properties"]["ContainerDefinitions"]:
            if c["Name"] == name:
                return dict(c)
    raise AssertionError(name)


def test_bff_task_shuts_down_inside_its_stop_timeout(stack: dict[str, Any]) -> None:
    bff = container(stack, "bff")
    env = {e["Name"]: e["Value"] for e in bff["Environment"]}
    assert bff["StopTimeout"] > int(env["BFF_GRACEFUL_TIMEOUT"]) + int(env["LOG_SHUTDOWN_TIMEOUT"])
    assert env["BFF_TRUSTED_PROXIES"] == "1"
    assert env["LOG_CLOUDWATCH_CREATE_GROUP"] == "0"
    assert env["LOG_CLOUDWATCH_GROUP"] == {"Ref": "BffLogGroup"}
    assert env["BFF_BIND"] == "0.0.0.0:8080"
    assert {"BFF_UPSTREAM_CATALOG_URL", "BFF_UPSTREAM_ORDERS_URL"} <= set(env)
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    secrets = {e["Name"] for e in bff.get("Secrets", [])}
    assert not (set(env) | secrets) - documented, (set(env) | secrets) - documented
    web = {e["Name"]: e["Value"] for e in container(stack, "web")["Environment"]}
    assert web["HOSTNAME"] == "0.0.0.0" and "BFF_URL" in web


def test_load_balancer_routes_and_health_checks(stack: dict[str, Any]) -> None:
    tgs = resources(stack, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert tgs["BffTargetGroup"]["Properties"]["HealthCheckPath"] == "/healthz"
    assert tgs["WebTargetGroup"]["Properties"]["HealthCheckPath"] == "/"
    listeners = resources(stack, "AWS::ElasticLoadBalancingV2::Listener")
    http = listeners["HttpListener"]["Properties"]
    assert http["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    https = listeners["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS"
    assert https["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "WebTargetGroup"}}
    ]
    (rule,) = resources(stack, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"] == ["/api/*"]
    assert rule["Properties"]["Actions"][0]["TargetGroupArn"] == {"Ref": "BffTargetGroup"}


def test_task_roles_are_least_privilege(stack: dict[str, Any]) -> None:
    roles = resources(stack, "AWS::IAM::Role")
    statements = {
        name: [
            s
            for p in role["Properties"].get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]
        ]
        for name, role in roles.items()
    }
    assert statements["BffTaskRole"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": {"Fn::GetAtt": "BffLogGroup.Arn"},
        },
        {
            "Effect": "Allow",
            "Action": ["logs:FilterLogEvents", "logs:GetLogEvents"],
            "Resource": {"Fn::GetAtt": "BffLogGroup.Arn"},
        },
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${SourceMapsBucket.Arn}/web/*"},
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": "SourceMapsBucket.Arn"},
        },
    ]
    # The web server calls no AWS API: source maps are read by the BFF.
    assert statements["WebTaskRole"] == []
    for name, stmts in statements.items():
        for s in stmts:
            assert s["Resource"] != "*" or s["Action"] == "ecr:GetAuthorizationToken", (name, s)
            assert "*" not in str(s["Action"]), (name, s)


def test_stateful_resources_are_private_and_encrypted(stack: dict[str, Any]) -> None:
    (bucket,) = resources(stack, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (redis,) = resources(stack, "AWS::ElastiCache::ReplicationGroup").values()
    assert redis["Properties"]["TransitEncryptionEnabled"] is True
    (redis_sg,) = [
        sg
        for name, sg in resources(stack, "AWS::EC2::SecurityGroup").items()
        if name == "RedisSecurityGroup"
    ]
    assert [r["SourceSecurityGroupId"] for r in redis_sg["Properties"]["SecurityGroupIngress"]] == [
        {"Ref": "BffSecurityGroup"}
    ]
    for group in resources(stack, "AWS::Logs::LogGroup").values():
        assert "RetentionInDays" in group["Properties"]


def test_alarms_cover_bff_errors_latency_and_unhealthy_hosts(stack: dict[str, Any]) -> None:
    alarms = resources(stack, "AWS::CloudWatch::Alarm").values()
    metrics = {
        (a["Properties"].get("MetricName"), a["Properties"].get("ExtendedStatistic"))
        for a in alarms  # metric-math alarms (Metrics) have no MetricName
    }
    assert ("HTTPCode_Target_5XX_Count", None) in metrics
    assert ("TargetResponseTime", "p99") in metrics
    assert ("UnHealthyHostCount", None) in metrics
    (record,) = resources(stack, "AWS::Route53::RecordSet").values()
    assert record["Properties"]["AliasTarget"]["DNSName"] == {"Fn::GetAtt": "LoadBalancer.DNSName"}


def test_jenkinsfile_stages_and_branch_model() -> None:
    text = (ROOT / "Jenkinsfile").read_text()
    stages = re.findall(r"stage\('([^']+)'\)", text)
    assert stages == ["Test", "Build images", "Push to ECR", "Deploy"]
    assert "sh 'make test'" in text
    assert 'make images TAG="$TAG"' in text and 'make push TAG="$TAG"' in text
    assert 'make deploy ENV="$DEPLOY_ENV" TAG="$TAG"' in text
    assert "env.BRANCH_NAME == 'main' ? 'production'" in text
    assert "env.BRANCH_NAME == 'develop' ? 'staging'" in text
    # Everything after Test runs on develop and main only.
    assert text.count("when { anyOf { branch 'develop'; branch 'main' } }") == 3
    for target in ("images", "push", "deploy", "lint-docker", "lint-cfn"):
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M), target


SOURCEMAPS = ROOT / "deploy" / "sourcemaps.py"


def run_sourcemaps(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SOURCEMAPS), *args, "--endpoint-url", url, "--region", REGION],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **CREDENTIALS},
        check=False,
    )


def test_sourcemaps_upload_to_the_stack_bucket_under_the_bff_prefix(
    ecs_emulator: Service, tmp_path: Path, stack: dict[str, Any]
) -> None:
    """What `make images` exports lands where the BFF's BFF_SOURCEMAPS_S3_URI points."""
    release = tmp_path / "maps" / "Xy_7-build"
    (release / "_next" / "static" / "chunks").mkdir(parents=True)
    (release / "_next" / "static" / "chunks" / "a1.js.map").write_text('{"version":3}')
    (release / "_next" / "static" / "chunks" / "notes.txt").write_text("not a map")
    s3 = boto3.client(
        "s3", endpoint_url=ecs_emulator.url, region_name=REGION, **_lower(CREDENTIALS)
    )
    bucket = f"front-door-staging-sourcemaps-123456789012-{REGION}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    done = run_sourcemaps(
        ecs_emulator.url, "--environment", "staging", "--dir", str(tmp_path / "maps")
    )

    assert done.returncode == 0, done.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["web/Xy_7-build/_next/static/chunks/a1.js.map"]
    bucket_name = stack["Resources"]["SourceMapsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert bucket_name == "front-door-${Environment}-sourcemaps-${AWS::AccountId}-${AWS::Region}"
    env = {e["Name"]: e["Value"] for e in container(stack, "bff")["Environment"]}
    assert env["BFF_SOURCEMAPS_S3_URI"] == {"Fn::Sub": "s3://${SourceMapsBucket}/web"}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        pytest.param({}, "holds no release directory", id="empty"),
        pytest.param({"r1/x.txt": "x"}, "no .map files", id="no-maps"),
        pytest.param({"bad name/a.js.map": "{}"}, "bad release directory name", id="bad-release"),
    ],
)
def test_sourcemaps_refuses_a_bad_tree_before_any_aws_call(
    tmp_path: Path, layout: dict[str, str], message: str
) -> None:
    for rel, text in layout.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    # An endpoint nothing listens on: any AWS call would fail with exit 1, not 2.
    done = run_sourcemaps(
        f"http://127.0.0.1:{free_port()}", "--environment", "staging", "--dir", str(tmp_path)
    )
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


def _lower(credentials: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in credentials.items()}
