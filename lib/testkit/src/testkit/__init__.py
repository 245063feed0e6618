"""Test and benchmark support: free ports, processes that start and stop cleanly, and the real
backing services (redis-server, the moto server) on loopback. Development only."""

from .process import (
    STARTUP_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Process,
    Ready,
    StartError,
    free_port,
    http_ready,
    redis_ready,
    start,
    stop_group,
    tcp_ready,
)
from .services import MotoServer, RedisServer, fake_aws_env, moto_server, redis_server

__all__ = [
    "STARTUP_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "MotoServer",
    "Process",
    "Ready",
    "RedisServer",
    "StartError",
    "fake_aws_env",
    "free_port",
    "http_ready",
    "moto_server",
    "redis_ready",
    "redis_server",
    "start",
    "stop_group",
    "tcp_ready",
]
