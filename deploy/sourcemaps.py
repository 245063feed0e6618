#!/usr/bin/env python
"""Upload the web build's source maps to the environment's private source-map bucket.

The web build moves its browser source maps out of the served files into
``.next/sourcemaps/<release>/_next/static/...`` (``Dockerfile.web`` exports that tree as the
``sourcemaps`` stage). This uploads the tree to ``s3://<bucket>/web/<release>/...``, where the BFF
(``BFF_SOURCEMAPS_S3_URI=s3://<bucket>/web``) reads them to symbolicate browser stack traces. Run it
before rolling the services, so a new release's maps exist before its first error report.

    python deploy/sourcemaps.py --environment staging --dir .run/sourcemaps/3f2c1ab

The bucket is ``front-door-<environment>-sourcemaps-<account>-<region>`` (deploy/stack.yaml), or
``--bucket``. Exit codes: 0 uploaded, 1 AWS error, 2 bad arguments (one line, before any AWS call).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ENVIRONMENTS = ("staging", "production")
BUCKET_TEMPLATE = "front-door-{environment}-sourcemaps-{account}-{region}"
PREFIX = "web"
RELEASE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_FILES = 20_000


@dataclass(frozen=True)
class Options:
    environment: str
    directory: Path
    bucket: str | None
    region: str | None
    endpoint_url: str | None


def parse_args(argv: Sequence[str] | None) -> Options:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Upload the web build's source maps to S3.")
    parser.add_argument("--environment", required=True, help=f"one of {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--dir", required=True, help="the sourcemaps tree: <release>/_next/...")
    parser.add_argument("--bucket", help="bucket (default: the stack's, from account and region)")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--endpoint-url", help="S3 and STS endpoint (an emulator in tests)")
    args = parser.parse_args(argv)
    return Options(args.environment, Path(args.dir), args.bucket, args.region, args.endpoint_url)


def collect(directory: Path) -> list[tuple[Path, str]]:
    """Every ``.map`` file with its key below the prefix; raises ValueError on a bad tree."""
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    releases = [p for p in directory.iterdir() if p.is_dir()]
    if not releases:
        raise ValueError(f"{directory} holds no release directory (expected <release>/_next/...)")
    files: list[tuple[Path, str]] = []
    for release in releases:
        if not RELEASE.fullmatch(release.name):
            raise ValueError(f"bad release directory name {release.name!r}")
        for path in sorted(release.rglob("*.map")):
            if path.is_symlink() or not path.is_file():
                continue
            files.append((path, f"{PREFIX}/{path.relative_to(directory).as_posix()}"))
            if len(files) > MAX_FILES:
                raise ValueError(f"more than {MAX_FILES} source maps under {directory}")
    if not files:
        raise ValueError(f"no .map files under {directory}")
    return files


def upload(options: Options, files: list[tuple[Path, str]]) -> str:
    """Upload ``files``; returns the bucket used."""
    session = boto3.session.Session(region_name=options.region)
    bucket = options.bucket
    if bucket is None:
        account = session.client("sts", endpoint_url=options.endpoint_url).get_caller_identity()
        bucket = BUCKET_TEMPLATE.format(
            environment=options.environment,
            account=account["Account"],
            region=session.region_name,
        )
    s3 = session.client("s3", endpoint_url=options.endpoint_url)
    for path, key in files:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType="application/json",
            CacheControl="private, max-age=31536000, immutable",
        )
    return bucket


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, then upload; one line on failure."""
    options = parse_args(argv)
    if options.environment not in ENVIRONMENTS:
        print(f"sourcemaps: unknown environment {options.environment!r}", file=sys.stderr)
        return 2
    try:
        files = collect(options.directory)
    except ValueError as exc:
        print(f"sourcemaps: {exc}", file=sys.stderr)
        return 2
    try:
        bucket = upload(options, files)
    except (ClientError, BotoCoreError) as exc:
        print(f"sourcemaps: AWS error: {exc}", file=sys.stderr)
        return 1
    print(f"sourcemaps: uploaded {len(files)} maps to s3://{bucket}/{PREFIX}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
