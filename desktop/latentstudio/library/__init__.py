"""Library: folder scan, robust image decode, thumbnails, store, index and search (Qt-free).

Its entry points are re-exported here under names that shadow none of its modules
(`search_library`, not `search`, which is the module that ranks pictures)."""

from .photo_library import Library
from .scan import ScanReport
from .search import SearchFilters, SearchHit, SearchRequest
from .service import (
    add_folders,
    add_generated_image,
    remove_folder,
    scan_library,
    search_library,
    submit_index,
    submit_search,
    submit_warmup,
)

__all__ = [
    "Library",
    "ScanReport",
    "SearchFilters",
    "SearchHit",
    "SearchRequest",
    "add_folders",
    "add_generated_image",
    "remove_folder",
    "scan_library",
    "search_library",
    "submit_index",
    "submit_search",
    "submit_warmup",
]
