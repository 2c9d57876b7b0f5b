"""Describe as prompt: a picture → a prompt, with CLIP only (no caption model).

The bundled phrase banks are ranked against the picture's vector; the prompt starts from the
best phrase and grows greedily, one phrase per bank at most, while the prompt–picture
similarity of the real encoded prompt rises and the prompt fits CLIP's context (77 tokens, or
fewer for a smaller model). Each round a cheap estimate (the mean of the phrase vectors)
shortlists the candidates, and only those are encoded: that keeps a picture to a few batched
text encodings once the banks' vectors are cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from ..engine import JobHandle, Priority
from ..engine.jobs import EventCallback
from .phrase_banks import BankVectors, bank_vectors

if TYPE_CHECKING:
    from ..context import AppContext
    from ..engine import JobContext
    from ..library.photo_library import Library
    from ..models.clip_loader import ClipModel
    from ..models.registry import InstalledModel

PER_BANK = 4  # phrases per bank that may enter the prompt
SHORTLIST = 8  # candidates encoded per round
TOP_SHOWN = 3  # phrases per bank reported with their scores
JOINER = ", "
ARTICLES = ("a", "an", "the")


@dataclass(frozen=True)
class Phrase:
    bank: str  # the bank's title
    text: str
    score: float  # cosine with the picture

    def to_json(self) -> dict[str, Any]:
        return {"bank": self.bank, "phrase": self.text, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Description:
    path: Optional[Path]
    prompt: str
    similarity: float  # cosine between the picture and the whole prompt
    tokens: int  # CLIP tokens, start and end included
    model_id: str
    top: list[Phrase] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": None if self.path is None else str(self.path),
            "prompt": self.prompt,
            "similarity": round(self.similarity, 4),
            "tokens": self.tokens,
            "model": self.model_id,
            "top_phrases": [p.to_json() for p in self.top],
        }


def _with_adjective(colour: str, noun: str) -> str:
    """"red" + "a dog" → "a red dog"; "orange" + "circle" → "an orange circle"."""
    words = noun.split(" ", 1)
    if words[0].lower() in ARTICLES and len(words) == 2:
        noun = words[1]
    article = "an" if colour[:1].lower() in "aeiou" else "a"
    return f"{article} {colour} {noun}"


def render(banks: BankVectors, chosen: dict[int, int]) -> str:
    """The prompt for chosen phrases (bank index → phrase index), in bank order, read as a caption:
    a colour becomes the adjective of the subject (or, without one, of the shape)."""
    names = [banks.banks[b].name for b in sorted(chosen)]
    text = {banks.banks[b].name: banks.phrases[chosen[b]] for b in chosen}
    noun = "subjects" if "subjects" in text else "shapes" if "shapes" in text else None
    parts = []
    for name in names:
        if name == "colours" and noun is not None:
            continue
        if name == noun and "colours" in text:
            parts.append(_with_adjective(text["colours"], text[name]))
        else:
            parts.append(text[name])
    return JOINER.join(parts)


def describe_vector(
    clip: "ClipModel",
    image_vector: np.ndarray,
    banks: BankVectors,
    model_id: str,
    path: Optional[Path] = None,
    checkpoint: Callable[[], None] = lambda: None,
) -> Description:
    """The prompt for one picture vector (unit length) from the ranked banks."""
    from ..models.text_encoding.batched import context_length, encode_texts, token_counts

    limit = context_length(clip)
    scores = banks.vectors @ image_vector
    top: list[Phrase] = []
    candidates: list[int] = []
    for index, bank in enumerate(banks.banks):
        members = np.flatnonzero(banks.bank_of == index)
        best = members[np.argsort(-scores[members], kind="stable")]
        candidates += [int(i) for i in best[:PER_BANK]]
        top += [Phrase(bank.title, banks.phrases[i], float(scores[i])) for i in best[:TOP_SHOWN]]
    top.sort(key=lambda p: -p.score)

    first = max(candidates, key=lambda i: scores[i])
    chosen = {int(banks.bank_of[first]): first}
    similarity, prompt_vector = float(scores[first]), banks.vectors[first]
    while True:
        remaining = [i for i in candidates if int(banks.bank_of[i]) not in chosen]
        if not remaining:
            break
        # Estimate each extended prompt as the mean of its phrases' vectors; encode the best few.
        estimate = prompt_vector * len(chosen) + banks.vectors[remaining]
        estimate /= np.linalg.norm(estimate, axis=1, keepdims=True)
        order = np.argsort(-(estimate @ image_vector), kind="stable")
        shortlist, texts = [], []
        for k in order:
            text = render(banks, {**chosen, int(banks.bank_of[remaining[k]]): remaining[k]})
            if token_counts(clip, [text])[0] <= limit:
                shortlist.append(remaining[k])
                texts.append(text)
            if len(texts) == SHORTLIST:
                break
        if not texts:
            break
        encoded = encode_texts(clip, texts)
        found = encoded @ image_vector
        best = int(np.argmax(found))
        checkpoint()
        if float(found[best]) <= similarity:
            break
        chosen[int(banks.bank_of[shortlist[best]])] = shortlist[best]
        similarity, prompt_vector = float(found[best]), encoded[best]
    prompt = render(banks, chosen)
    return Description(path, prompt, similarity, token_counts(clip, [prompt])[0], model_id, top)


def describe_job(
    job: "JobContext", installed: "InstalledModel", library: "Library", bank_cache: Path, paths: Sequence[Path]
) -> list[Description]:
    """Describe each picture (library vectors are reused when the picture is indexed); the phrase
    banks' vectors are kept under `bank_cache`."""
    from ..library.search import image_query_vector
    from ..models.clip_loader import clip_in_job

    job.progress(0, len(paths), f"loading {installed.id}")
    with clip_in_job(job, installed) as clip:

        def encoding(done: int, total: int) -> None:
            job.progress(0, len(paths), f"learning the phrase banks ({done}/{total}, once per model)")
            job.checkpoint()

        banks = bank_vectors(clip, installed, bank_cache, between_batches=encoding)
        descriptions = []
        for done, path in enumerate(paths):
            vector = image_query_vector(library, clip, installed.id, Path(path))
            vector = vector / np.linalg.norm(vector)
            descriptions.append(describe_vector(clip, vector, banks, installed.id, Path(path), job.checkpoint))
            job.progress(done + 1, len(paths), f"described {done + 1}/{len(paths)}")
    return descriptions


def submit_describe(
    ctx: "AppContext",
    paths: Sequence[Path],
    model_id: Optional[str] = None,
    on_event: Optional[EventCallback] = None,
) -> JobHandle:
    """Describe pictures as a FOREGROUND job; its result is a list of Description."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("give at least one picture to describe")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
    installed = ctx.registry.resolve("clip", model_id)  # no CLIP model: MissingModelError now, not in the queue
    bank_cache = ctx.paths.home / "cache" / "phrase-banks"
    name = f"Describe {paths[0].name}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
    return ctx.engine.submit(lambda job: describe_job(job, installed, ctx.library, bank_cache, paths),
                             priority=Priority.FOREGROUND, name=name, kind="describe", on_event=on_event)
