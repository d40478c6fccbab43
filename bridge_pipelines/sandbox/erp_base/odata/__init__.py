"""OData pieces every OData sandbox shares, built once.

- `model`: entity definitions (`Prop`, `EntityType`, `EntitySetDef`, `ServiceModel`). The same
  definitions a sandbox validates with generate its `$metadata` (`csdl.metadata_document`) and
  its service document (`csdl.service_document`), so the description never drifts from what the
  service accepts.
- `options`: the system query options (`$select`, `$orderby`, `$top`, `$skip`, `$count`,
  `$expand`, ...) parsed and checked against the entity type; an option the service does not
  support raises `UnsupportedOption` so the sandbox answers its documented error, never a
  silent 200.
- `filter`: `$filter` compiled to a parameterised SQL condition over a property whitelist
  (a JSON path per property by default, or the sandbox's own column expression).
- `etag`: weak ETags over an entity's state and the `If-Match` check (412 when stale).
- `batch`: `$batch` multipart/mixed requests (changesets) parsed, responses written.
"""
