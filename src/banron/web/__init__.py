"""The web app: FastAPI routes, Jinja2 templates and a little JavaScript over the same core as the CLI.

``create_app`` (app.py) wires settings to the core; routes only check who may do what, call the
core and render. banron's speeches stream to the browser over server-sent events.
"""
