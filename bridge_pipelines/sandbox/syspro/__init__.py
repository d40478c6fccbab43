"""The SYSPRO sandbox: e.net Solutions REST (GET-only) and the read-only OData service.

See README.md for the quirks reproduced and which are confirmed or inferred.
"""
