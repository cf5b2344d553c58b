"""The REST controller: FastAPI app, response schemas and routes."""

from service.api.app import create_app

__all__ = ["create_app"]
