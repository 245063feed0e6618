"""Sample "orders" upstream service (FastAPI)."""
