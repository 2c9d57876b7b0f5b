"""Stream tokens out of `model.generate` on the thread that runs it, and stop it on request.

`TokenStreamer.put` is called by generate after every token, on the engine thread: it decodes
the new token incrementally, hands the new text to a callback (which emits a job event) and
then runs a per-token hook (the job's checkpoint). No second thread and no queue are needed.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

REPLACEMENT_CHAR = "\ufffd"
WINDOW_TOKENS = 16  # longest decode window; one extra decode each time it moves on


class TokenStreamer(BaseStreamer):
    """Incremental detokenizer: each put() yields exactly the text the new token adds.

    Each step decodes a short window of recent tokens once and emits what its text gained.
    The window keeps one earlier token when it moves on, so tokenizers that drop a leading
    space at the start of a decode stay correct, and each step stays O(1). A token ending
    inside a multi-byte character is held back until the character completes.
    """

    def __init__(
        self,
        tokenizer: Any,
        on_piece: Callable[[str], None],
        after_token: Optional[Callable[[], None]] = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.tokenizer = tokenizer
        self.on_piece = on_piece
        self.after_token = after_token
        self.clock = clock
        self.token_ids: list[int] = []
        self.first_token_at: Optional[float] = None
        self.last_token_at: Optional[float] = None
        self.hook_seconds = 0.0  # time spent in after_token before the latest token
        self._hook_total = 0.0
        self._prompt_seen = False
        self._window_start = 0  # first token of the decode window
        self._window_text = ""  # text of the window already emitted

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt itself
            self._prompt_seen = True
            return
        ids = value.reshape(-1).tolist()
        if len(ids) != 1:
            raise ValueError("TokenStreamer streams a single sequence")
        now = self.clock()
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        self.hook_seconds = self._hook_total
        self.token_ids.extend(ids)
        piece = self._decode_new(final=False)
        if piece:
            self.on_piece(piece)
        if self.after_token is not None:
            hook_start = self.clock()
            try:
                self.after_token()
            finally:
                self._hook_total += self.clock() - hook_start

    def end(self) -> None:
        piece = self._decode_new(final=True)
        if piece:
            self.on_piece(piece)

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def decode_tokens_per_s(self) -> Optional[float]:
        """Tokens per second after the first one, not counting time lent to other jobs in the hook."""
        if self.first_token_at is None or self.last_token_at is None or self.n_tokens < 2:
            return None
        elapsed = self.last_token_at - self.first_token_at - self.hook_seconds
        return (self.n_tokens - 1) / elapsed if elapsed > 0 else None

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _decode_new(self, final: bool) -> str:
        text = self._decode(self.token_ids[self._window_start :])
        if text.endswith(REPLACEMENT_CHAR) and not final:
            return ""
        # A decode that rewrites earlier text (rare clean-up rules) streams only what follows;
        # the final text comes from one decode of every token.
        piece = text[len(self._window_text) :] if text.startswith(self._window_text) else ""
        self._window_text = text
        if len(self.token_ids) - self._window_start >= WINDOW_TOKENS:
            start = len(self.token_ids) - 1
            tail = self._decode(self.token_ids[start:])
            if REPLACEMENT_CHAR not in tail:  # never start a window inside a character
                self._window_start, self._window_text = start, tail
        return piece


class CancelCriterion(StoppingCriteria):
    """Ends generation after the current token once `event` is set (a job's cancel event)."""

    def __init__(self, event: threading.Event):
        self.event = event
        self._answers: dict[tuple[int, str, bool], Any] = {}  # generate() only reads them

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        stop = self.event.is_set()
        key = (input_ids.shape[0], str(input_ids.device), stop)
        answer = self._answers.get(key)
        if answer is None:
            import torch

            answer = torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
            self._answers[key] = answer
        return answer
