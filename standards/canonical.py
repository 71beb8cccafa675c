"""The content hash both the hub and the agent compute for a config, so drift can be seen."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(content: Any) -> str:
    """One spelling per content: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``content``."""
    return "sha256:" + hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
