"""ASGI entry point: ``uvicorn leadrank.main:app``."""

from leadrank.app import create_app

app = create_app()
