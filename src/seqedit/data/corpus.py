"""Text corpora for the second-moment statistics of the edited layers, written as JSON lines ``{"text": doc}``.

Which text a name stands for is fixed in ``registry.CORPORA`` (source, version, split, document cutting), and a
mirror file must match its pinned sha256, so one corpus name never covers two different texts. Documents come out
in a deterministic order, so ``--max-docs k`` yields a prefix of the full corpus: the first k documents are the
same whatever the cap.

Document cutting (``CorpusSpec.split``):

- ``wikitext-articles``: WikiText lines are grouped into articles at top-level headings (`` = Title = ``; the
  sub-headings `` = = Section = = `` stay inside the article). Blank lines are dropped and each kept line is
  stripped, so the mirror file (CRLF, no blank rows) and the Hugging Face rows (one line per row, with blank rows)
  give identical documents. A document is its lines joined by "\\n", heading lines included.
- ``paragraphs``: for text without headings (the WikiText-2 train excerpt): one document per non-empty line, i.e.
  one per paragraph, stripped.
- ``rows``: one document per dataset row (Wikipedia: one article per row), text unchanged.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..atomic import atomic_path
from ..files import sha256_file
from .registry import CorpusSpec, get_corpus_spec


class CorpusUnavailable(RuntimeError):
    pass


def is_top_heading(line: str) -> bool:
    s = line.strip()
    return (
        len(s) >= 5
        and s.startswith("= ")
        and s.endswith(" =")
        and not s.startswith("= =")
        and not s.endswith("= =")
    )


def split_wikitext_articles(lines: Iterable[str]) -> Iterator[str]:
    """Group WikiText lines into articles at top-level headings; text before the first heading is one document."""
    current: list[str] = []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if is_top_heading(s) and current:
            yield "\n".join(current)
            current = []
        current.append(s)
    if current:
        yield "\n".join(current)


def split_paragraphs(lines: Iterable[str]) -> Iterator[str]:
    """One document per non-empty line (a WikiText paragraph)."""
    for line in lines:
        s = line.strip()
        if s:
            yield s


def _file_lines(path: Path) -> Iterator[str]:
    # newline=None: universal newlines, so CRLF and LF files read the same
    with open(path, encoding="utf-8", newline=None) as f:
        yield from f


def _hf_rows(spec: CorpusSpec) -> Iterator[str]:
    hf = spec.hf
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - datasets is a dependency of lm-eval
        raise CorpusUnavailable(f"corpus {spec.name!r} needs the `datasets` package: {e}") from e
    try:
        ds = datasets.load_dataset(hf.path, hf.config, split=hf.split, streaming=hf.streaming)
    except Exception as e:  # noqa: BLE001 - offline, missing config, network: all reported the same way
        raise CorpusUnavailable(
            f"corpus {spec.name!r}: loading Hugging Face dataset {hf.path!r} config {hf.config!r} "
            f"split {hf.split!r} failed ({type(e).__name__}: {e})"
        ) from e
    for row in ds:
        yield row[hf.text_field]


def _lines_from_rows(rows: Iterable[str]) -> Iterator[str]:
    for text in rows:
        yield from text.splitlines()


def _source_lines_or_rows(spec: CorpusSpec, mirror: str | os.PathLike | None) -> tuple[str, Iterator[str]]:
    """(description of the source, iterator of lines — or of rows for split 'rows')."""
    tried: list[str] = []
    if spec.mirror is not None:
        if mirror is None:
            tried.append(f"mirror file {spec.mirror.path} (no --mirror given)")
        else:
            path = Path(mirror) / spec.mirror.path
            if path.is_file():
                digest = sha256_file(path)
                if not digest.startswith(spec.mirror.sha256):
                    raise CorpusUnavailable(
                        f"corpus {spec.name!r}: {path} has sha256 {digest[:16]}..., expected {spec.mirror.sha256}...; "
                        "a different text must get a different corpus name"
                    )
                return str(path), _file_lines(path)
            tried.append(f"{path} (absent)")
    if spec.hf is not None:
        hf = spec.hf
        src = f"hf:{hf.path}/{hf.config}/{hf.split}"
        rows = _hf_rows(spec)
        try:
            first = next(rows)
        except StopIteration:
            raise CorpusUnavailable(f"corpus {spec.name!r}: {src} is empty") from None
        except CorpusUnavailable as e:
            tried.append(str(e))
            raise CorpusUnavailable(
                f"corpus {spec.name!r} is unavailable; tried:\n  " + "\n  ".join(tried)
            ) from e.__cause__

        def chained() -> Iterator[str]:
            yield first
            yield from rows

        if spec.split == "rows":
            return src, chained()
        return src, _lines_from_rows(chained())
    tried.append("no online source is registered")
    raise CorpusUnavailable(f"corpus {spec.name!r} is unavailable; tried:\n  " + "\n  ".join(tried))


def iter_documents(name: str, mirror: str | os.PathLike | None = None) -> tuple[str, Iterator[str]]:
    """(source description, iterator of the corpus documents in order)."""
    spec = get_corpus_spec(name)
    source, items = _source_lines_or_rows(spec, mirror)
    if spec.split == "wikitext-articles":
        docs = split_wikitext_articles(items)
    elif spec.split == "paragraphs":
        docs = split_paragraphs(items)
    elif spec.split == "rows":
        docs = (t for t in items if t.strip())
    else:  # pragma: no cover - registry error
        raise ValueError(f"corpus {name!r}: unknown split {spec.split!r}")
    return source, docs


def build_corpus(
    name: str, out: str | os.PathLike, mirror: str | os.PathLike | None = None, max_docs: int | None = None
) -> dict:
    """Write corpus ``name`` (its first ``max_docs`` documents if given) to ``out`` as JSON lines; return a summary."""
    if max_docs is not None and max_docs <= 0:
        raise ValueError(f"max_docs must be positive, got {max_docs}")
    source, docs = iter_documents(name, mirror)
    n = 0
    n_chars = 0
    with atomic_path(out, suffix=".jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for doc in docs:
                if max_docs is not None and n >= max_docs:
                    break
                f.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
                n += 1
                n_chars += len(doc)
        if n == 0:
            raise CorpusUnavailable(f"corpus {name!r} from {source} produced no documents")
    return {"corpus": name, "source": source, "documents": n, "characters": n_chars, "path": str(out)}


def read_corpus(path: str | os.PathLike) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]
