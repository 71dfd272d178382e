"""Fetch a registered prompt file (:data:`seqedit.data.registry.PROMPTS`): data, like the datasets.

``download-data --prompt NAME --out resources/prompts/NAME.json`` tries the mirror files, then the canonical URLs
(pinned to a commit); a copy whose sha256 differs from the registry's is refused. The output is JSON: the text and
where it came from (``available`` true). When no location works, the command fails with every location tried,
unless ``--fallback handmade`` was given (config ``evaluation.mquake.prompt_fallback: handmade``): then the output
says ``available`` false, with the reason, and the metrics run the hand-made prompt and say so in every result.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..atomic import write_json
from .fetch import DEFAULT_TIMEOUT, DownloadError
from .registry import get_prompt_spec

FALLBACKS = ("handmade",)


def _fetch_url(url: str, timeout: float) -> bytes:
    import urllib.request

    req = urllib.request.Request(url, headers={"User-Agent": "seqedit/0.1 (knowledge-editing reproduction)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def download_prompt(name: str, out: str | os.PathLike, mirror: str | os.PathLike | None = None,
                    timeout: float = DEFAULT_TIMEOUT, allow_download: bool = True,
                    fallback: str | None = None) -> dict:
    """Write ``{"prompt", "available", "text", "source", "source_kind", "sha256"}`` for prompt file ``name`` to
    ``out`` and return it; see the module docstring for the order and the fallback."""
    spec = get_prompt_spec(name)
    if fallback is not None and fallback not in FALLBACKS:
        raise ValueError(f"unknown prompt fallback {fallback!r}; known: {', '.join(FALLBACKS)}")
    tried: list[str] = []

    def accept(data: bytes, where: str) -> bool:
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.sha256:
            tried.append(f"{where} (sha256 {digest[:16]}..., not the registry's {spec.sha256[:16]}...)")
            return False
        return True

    candidates: list[tuple[str, str]] = []
    if mirror is not None:
        candidates += [("mirror", str(Path(mirror) / rel)) for rel in spec.mirror_files]
    candidates += [("url", url) for url in spec.urls]
    for kind, where in candidates:
        if kind == "mirror":
            if not Path(where).is_file():
                tried.append(f"{where} (absent)")
                continue
            data = Path(where).read_bytes()
            where = str(Path(where).resolve())
        elif not allow_download:
            tried.append(f"{where} (download disabled)")
            continue
        else:
            try:
                data = _fetch_url(where, timeout)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                tried.append(f"{where} ({type(e).__name__}: {e})")
                continue
        if accept(data, where):
            rec = {"prompt": name, "available": True, "text": data.decode("utf-8"), "source": where,
                   "source_kind": kind, "sha256": spec.sha256}
            write_json(out, rec)
            return rec
    if fallback is None:
        mirror_hint = f"{mirror}/{spec.mirror_files[0]}" if mirror else f"<data_mirror>/{spec.mirror_files[0]}"
        raise DownloadError(
            f"could not fetch prompt file {name!r} ({spec.description}); tried:\n  " + "\n  ".join(tried)
            + f"\nPut the file at {mirror_hint} (sha256 {spec.sha256}), or set config "
            "evaluation.mquake.prompt_fallback: handmade to run the hand-made prompt instead (every result says so)"
        )
    rec = {"prompt": name, "available": False, "fallback": fallback, "tried": tried, "text": None,
           "source": None, "source_kind": None, "sha256": None}
    write_json(out, rec)
    return rec
