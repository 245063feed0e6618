from __future__ import annotations

from fastapi import APIRouter

from orders_service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness check")
async def healthz() -> Health:
    return Health(status="ok")
