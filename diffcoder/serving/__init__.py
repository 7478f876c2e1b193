"""The team server: a Ray Serve application that decodes for many editors (docs/server.md).

`requests` and `auth` are plain Python (pydantic, no Ray, no torch) so they can be read and tested
alone; `replica` holds the model, `ingress` is the HTTP API, `app` starts and stops it all.
"""
