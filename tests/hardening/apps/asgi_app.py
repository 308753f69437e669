"""A FastAPI app for ``uvicorn --workers 2``: each worker process imports it on its own."""

from __future__ import annotations

from fastapi import FastAPI

from memwatch.auth import allow_all
from memwatch_fastapi import memwatch_lifespan, memwatch_router

app = FastAPI(lifespan=memwatch_lifespan())
app.include_router(memwatch_router(auth=allow_all()))
