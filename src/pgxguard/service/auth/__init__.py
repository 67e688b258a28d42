"""auth domain: service layer (service.py) and FastAPI router (router.py)."""
