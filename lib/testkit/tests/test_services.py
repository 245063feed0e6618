"""redis_server and moto_server: real servers on free loopback ports, stopped afterwards."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
from testkit import moto_server, redis_server, tcp_ready


def test_redis_server_answers_and_stops(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        assert redis.url == f"redis://127.0.0.1:{redis.port}/0"
        assert redis.url_for(3) == f"redis://127.0.0.1:{redis.port}/3"
        with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
            sock.sendall(b"SET k v\r\nGET k\r\n")
            answer = b""
            while not answer.endswith(b"v\r\n"):
                answer += sock.recv(64)
        assert answer == b"+OK\r\n$1\r\nv\r\n"
    assert not redis.process.running()
    assert tcp_ready(redis.port)() is not None
    assert not list(tmp_path.glob("*.rdb")), "nothing is saved to disk"


def test_moto_server_serves_cloudwatch_logs_and_s3(tmp_path: Path) -> None:
    with moto_server(tmp_path, region="us-east-1", env={"MOTO_ECS_SERVICE_RUNNING": "1"}) as moto:
        assert "MOTO_ECS_SERVICE_RUNNING" not in moto.env  # the server's setting, not boto3's
        assert moto.env["AWS_REGION"] == "us-east-1"
        logs = boto3.client("logs", **moto.client_kwargs())
        logs.create_log_group(logGroupName="/testkit")
        groups = logs.describe_log_groups()["logGroups"]
        assert [group["logGroupName"] for group in groups] == ["/testkit"]
        s3 = boto3.client("s3", **moto.client_kwargs())
        s3.create_bucket(Bucket="testkit")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["testkit"]
        logs.close()
        s3.close()
    assert not moto.process.running()
