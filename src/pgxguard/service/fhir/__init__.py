"""fhir domain: FHIR R4 read API over patients, test orders and results (service.py, router.py)."""
