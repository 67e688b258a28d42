"""Web UI (`/ui`): server-rendered pages for laboratory staff and prescribers.

Same service functions, same role table and same audit as the REST API; only the transport
differs (an HttpOnly session cookie holding an API token, CSRF-checked forms, HTML responses).
"""
