"""Page sizes and text caps that both faces and the services read: change one here (or, for
the page size, with GATEWAY_MAX_PAGE_SIZE) and REST and GraphQL change together."""

# The largest page a list returns (REST `limit`, GraphQL `first`), unless the deployment sets
# GATEWAY_MAX_PAGE_SIZE (Settings.max_page_size, up to PAGE_SIZE_CEILING): both faces read
# that setting, never a number of their own.
DEFAULT_MAX_PAGE_SIZE = 100
PAGE_SIZE_CEILING = 1000
# A subject's per-student progress (REST /professor/subjects/{id}/analytics `limit`, GraphQL
# `studentProgress`) has its own, larger cap, independent of GATEWAY_MAX_PAGE_SIZE.
MAX_PROGRESS_PAGE_SIZE = 1000
# REST `skip`: beyond this an offset scan costs more than any client paging by hand needs.
MAX_SKIP = 10_000_000
# A chat message or a quiz answer (both faces validate through gateway/sessions/schemas.py).
MAX_MESSAGE_CHARS = 20_000
# A subject name search (REST `search`, GraphQL `subjects(search:)`).
MAX_SEARCH_CHARS = 200
