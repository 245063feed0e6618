# The two commands: `make dev` and `make test`. Everything else is a step of those two.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed
BENCH_NEXT := bench/proxy/next-rewrites
BENCH_STAMP := $(BENCH_NEXT)/node_modules/.installed
BENCH_WEB := bench/web
BENCH_WEB_STAMP := $(BENCH_WEB)/node_modules/.installed
SYSTEM_PACKAGES := nginx-light wrk redis-server chromium podman runc debootstrap docker.io docker-compose
# -rs: a skipped test says why (a missing container engine, say) instead of hiding in the count
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider -rs

.PHONY: help dev logs test install lock lock-check system-deps lint typecheck fmt test-bff test-upstreams \
        test-integration test-schema test-testkit test-logship test-web bench-proxy bench-logs bench-web bench-ingest \
        bench-edge bench-deps bench-metrics bench-ops bench-smoke test-images clean
.PHONY: lint-docker lint-cfn images push deploy

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

dev: install ## run web, BFF, Django and FastAPI locally (Ctrl-C stops all)
	@scripts/system-deps.sh redis-server
	@$(BIN)/python scripts/dev.py

logs: install ## follow the local CloudWatch log group (what `make dev` ships), like aws logs tail --follow
	@LOG_CLOUDWATCH_GROUP=$${LOG_CLOUDWATCH_GROUP:-/front-door/dev} \
	 LOG_CLOUDWATCH_ENDPOINT=$${LOG_CLOUDWATCH_ENDPOINT:-http://127.0.0.1:$${DEV_LOGS_PORT:-4566}} \
	 AWS_REGION=$${AWS_REGION:-eu-west-1} AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-local} \
	 AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-local} \
	 $(BIN)/python scripts/logs_tail.py $(ARGS)

test: install system-deps lock-check lint typecheck test-web test-testkit test-bff test-logship test-upstreams test-integration test-schema test-images bench-deps bench-smoke ## install what is missing, then run every check and test suite
	@echo "==> all checks and tests passed"

install: $(PY_STAMP) $(WEB_STAMP) ## create the venv and install Python and npm dependencies

# Every package from a lock file with hashes (requirements/README.md); the local packages
# cannot be hash-checked, so they follow without dependencies, built by the locked setuptools.
# testkit (test and benchmark support) is for this venv only, never an image.
$(PY_STAMP): requirements/dev.txt requirements/build.txt bff/pyproject.toml lib/logship/pyproject.toml \
             lib/testkit/pyproject.toml
	@echo "==> creating the Python environment in $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --progress-bar on --require-hashes -r requirements/dev.txt -r requirements/build.txt
	@$(BIN)/python -m pip install --progress-bar on --no-deps --no-build-isolation -e ./lib/logship -e ./bff \
	  -e ./lib/testkit
	@$(BIN)/python -m pip check
	@touch $@

# The order matters: a lock takes the versions of the locks its input names with -c.
LOCKS := bff upstreams build dev emulator
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
              --custom-compile-command "make lock"

lock: install ## resolve requirements/*.in into the lock files with hashes (UPGRADE=1: newest allowed versions)
	@for name in $(LOCKS); do \
	  echo "==> requirements/$$name.txt"; \
	  $(UV_COMPILE) $(if $(UPGRADE),--upgrade) requirements/$$name.in -o requirements/$$name.txt; \
	done
	@$(BIN)/python scripts/lock_check.py

lock-check: install ## the lock files match their inputs (requirements/*.in), offline
	@echo "==> lock files"
	@$(BIN)/python scripts/lock_check.py

$(WEB_STAMP): web/package.json web/package-lock.json
	@echo "==> installing web dependencies (npm ci)"
	@cd web && npm ci --no-audit --no-fund
	@touch $@

$(BENCH_WEB_STAMP): $(BENCH_WEB)/package.json $(BENCH_WEB)/package-lock.json
	@echo "==> installing Lighthouse for the web benchmark"
	@cd $(BENCH_WEB) && npm ci --no-audit --no-fund
	@touch $@

$(BENCH_STAMP): $(BENCH_NEXT)/package.json $(BENCH_NEXT)/package-lock.json
	@echo "==> installing the Next.js rewrites reference app for benchmarks"
	@cd $(BENCH_NEXT) && npm ci --no-audit --no-fund
	@touch $@

system-deps: ## apt-get install the Debian packages tests and benchmarks need, if missing
	@scripts/system-deps.sh $(SYSTEM_PACKAGES)

lint: install lint-docker lint-cfn ## ruff (lint + format check), ESLint, hadolint, cfn-lint
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@echo "==> eslint"
	@cd web && npm run --silent lint

typecheck: install ## mypy (strict on bff/src), tsc --noEmit
	@echo "==> mypy"
	@$(BIN)/mypy
	@$(BIN)/mypy --strict lib/testkit/src lib/testkit/tests
	@$(BIN)/mypy --strict lib/logship/src scripts/logs_tail.py scripts/dev.py scripts/log_forwarder.py
	@$(BIN)/mypy --strict deploy/deploy.py deploy/sourcemaps.py scripts/openapi_snapshot.py bench/web/run.py
	@$(BIN)/mypy --strict scripts/lock_check.py scripts/settings_doc.py tests/schemathesis_hooks.py
	@MYPYPATH=bench $(BIN)/mypy --strict bench/proxy/run.py
	@MYPYPATH=bench $(BIN)/mypy --strict bench/edge/run.py
	@MYPYPATH=bench $(BIN)/mypy --strict bench/fleet/run.py
	@MYPYPATH=bench:bench/ingest $(BIN)/mypy --strict bench/metrics/run.py
	@MYPYPATH=bench/models:bench/ingest $(BIN)/mypy --strict bench/models/run.py
	@MYPYPATH=bench:bench/ingest $(BIN)/mypy --strict bench/ops/run.py
	@MYPYPATH=bench:bench/ingest $(BIN)/mypy --strict bench/logs/run.py
	@$(BIN)/mypy --config-file upstreams/mypy.ini upstreams/django_api
	@$(BIN)/mypy --config-file upstreams/mypy.ini upstreams/fastapi_api
	@echo "==> tsc"
	@cd web && npm run --silent typecheck

fmt: install ## format Python code
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

test-bff: install ## BFF unit tests
	@echo "==> BFF tests"
	@$(PYTEST) bff/tests -q

test-testkit: install ## test-support package (lib/testkit): processes, redis-server, moto server
	@echo "==> testkit tests"
	@$(PYTEST) lib/testkit/tests -q

test-logship: install ## logging library: real moto server, fault-injection proxy, real gunicorn
	@echo "==> logship tests"
	@$(PYTEST) lib/logship/tests -q

test-upstreams: install ## Django and FastAPI sample service tests
	@echo "==> Django catalog tests"
	@cd upstreams/django_api && ../../$(PYTEST) -q
	@echo "==> FastAPI orders tests"
	@cd upstreams/fastapi_api && ../../$(PYTEST) -q

test-web: install ## web unit tests (vitest) and the error reporter's size budget
	@echo "==> web unit tests (vitest)"
	@cd web && npm run --silent test
	@echo "==> error reporter size budget"
	@cd web && npm run --silent size

test-integration: install ## real services on free ports, real HTTP through the BFF under gunicorn
	@echo "==> integration tests"
	@$(PYTEST) tests -q --ignore=tests/test_images.py --ignore=tests/test_schemathesis.py

test-schema: install system-deps ## schemathesis against the BFF's /openapi.json (all checks, 25 examples per operation)
	@echo "==> schemathesis against /openapi.json"
	@$(PYTEST) tests/test_schemathesis.py -q

test-images: install system-deps ## build the four images with podman on local bases, run each alone and under compose
	@echo "==> container images (podman build and run, docker-compose)"
	@$(PYTEST) tests/test_images.py -q

bench-proxy: install system-deps $(BENCH_STAMP) ## proxy benchmark: BFF vs nginx vs Next.js rewrites
	@$(BIN)/python bench/proxy/run.py

bench-edge: install system-deps ## BFF under slow-client attacks: probe success and p99 vs no attack
	@$(BIN)/python bench/edge/run.py $(ARGS)

bench-logs: install ## CPU per log event, logship vs plain watchtower
	@$(BIN)/python bench/logs/run.py

bench-web: install system-deps $(BENCH_WEB_STAMP) ## Lighthouse on the production site: score, LCP, JS transferred
	@$(BIN)/python bench/web/run.py $(ARGS)

bench-ingest: install system-deps ## client error ingest: reports/s and p99, plain and symbolicated
	@$(BIN)/python bench/ingest/run.py $(ARGS)

bench-ops: install system-deps ## ops view: the error-group index at 1,000,000 events via 4 BFFs (ARGS=--quick: 20,000)
	@$(BIN)/python bench/ops/run.py $(ARGS)

bench-deps: $(BENCH_STAMP) $(BENCH_WEB_STAMP) ## every benchmark's npm install (npm ci), so a lock that no longer installs fails make test

bench-metrics: install system-deps ## EMF metrics: writers' CPU, the BFF with metrics on vs off
	@$(BIN)/python bench/metrics/run.py $(ARGS)

bench-smoke: install system-deps $(BENCH_STAMP) ## short runs of the proxy, ingest, edge, fleet, logs, ops and metrics benchmark harnesses
	@echo "==> benchmark harness smoke runs"
	@$(BIN)/python bench/proxy/run.py --duration 1 --sizes 1k --quick
	@$(BIN)/python bench/ingest/run.py --quick
	@$(BIN)/python bench/edge/run.py --quick
	@$(BIN)/python bench/fleet/run.py --quick
	@$(BIN)/python bench/logs/run.py --quick
	@$(BIN)/python bench/ops/run.py --quick
	@$(BIN)/python bench/metrics/run.py --quick

# --- containers and deployment (docs/deploy.md) ------------------------------------------------
DOCKERFILES := Dockerfile.bff Dockerfile.web deploy/emulator.Dockerfile deploy/upstreams.Dockerfile
AWS_REGION ?= eu-west-1
REGISTRY ?= $(AWS_ACCOUNT_ID).dkr.ecr.$(AWS_REGION).amazonaws.com
TAG ?= $(shell git rev-parse --short=12 HEAD)

lint-docker: install ## hadolint on every Dockerfile
	@echo "==> hadolint"
	@$(BIN)/hadolint $(DOCKERFILES)

lint-cfn: install ## cfn-lint on the CloudFormation stack (deploy/stack.yaml)
	@echo "==> cfn-lint"
	@$(BIN)/cfn-lint --include-checks I -- deploy/stack.yaml

images: ## build both images (and export the web source maps), needs a Docker engine: make images TAG=<git sha> AWS_ACCOUNT_ID=...
	@test -n "$(AWS_ACCOUNT_ID)" || { echo "make images: set AWS_ACCOUNT_ID" >&2; exit 2; }
	docker build -f Dockerfile.bff -t $(REGISTRY)/front-door/bff:$(TAG) .
	docker build -f Dockerfile.web --build-arg WEB_RELEASE=$(TAG) -t $(REGISTRY)/front-door/web:$(TAG) .
	docker build -f Dockerfile.web --build-arg WEB_RELEASE=$(TAG) --target sourcemaps \
	  --output type=local,dest=.run/sourcemaps/$(TAG) .

push: install ## push both images to ECR, needs a Docker engine and AWS credentials
	@test -n "$(AWS_ACCOUNT_ID)" || { echo "make push: set AWS_ACCOUNT_ID" >&2; exit 2; }
	@$(BIN)/python -c "import base64, boto3; t = boto3.client('ecr', region_name='$(AWS_REGION)').get_authorization_token(); print(base64.b64decode(t['authorizationData'][0]['authorizationToken']).decode().split(':', 1)[1])" \
	  | docker login --username AWS --password-stdin $(REGISTRY)
	docker push $(REGISTRY)/front-door/bff:$(TAG)
	docker push $(REGISTRY)/front-door/web:$(TAG)

deploy: install ## upload the source maps, then roll the ECS services to an image tag: make deploy ENV=staging TAG=<git sha>
	@$(BIN)/python deploy/sourcemaps.py --environment "$(ENV)" --dir .run/sourcemaps/$(TAG) --region $(AWS_REGION)
	@$(BIN)/python deploy/deploy.py --environment "$(ENV)" --image-tag "$(TAG)" --region $(AWS_REGION) $(DEPLOY_ARGS)

clean: ## remove build output and local state (keeps installed dependencies)
	rm -rf web/.next .run .mypy_cache .ruff_cache
