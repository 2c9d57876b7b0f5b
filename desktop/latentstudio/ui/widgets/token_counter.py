"""The prompt's token count as A1111 shows it ("12/75", "90/150"): tokens over the room of the
75-token chunks the prompt is encoded in. Torch-free (open_clip's BPE vocabulary, read once)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QLabel, QWidget

from ...imagegen.prompt_syntax import CHUNK_TOKENS, PromptSyntaxError, count_chunks


class TokenCounter(QLabel):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("token-counter")
        self._tokenizer = None  # built on first use: the page opens without reading the vocabulary
        self.count_text("")

    def count_text(self, prompt: str) -> tuple[int, int]:
        """Show and return (tokens, chunks) for `prompt`."""
        if not prompt.strip():
            tokens, chunks = 0, 1
        else:
            if self._tokenizer is None:
                from ...models.clip_bpe import ClipBpeTokenizer

                self._tokenizer = ClipBpeTokenizer()
            try:
                tokens, chunks = count_chunks(prompt, self._tokenizer.encode)
            except PromptSyntaxError as exc:
                self.setText("?")
                self.setToolTip(str(exc))
                return 0, 0
        self.setText(f"{tokens}/{chunks * CHUNK_TOKENS}")
        self.setToolTip(
            f"{tokens} tokens in {chunks} chunk{'s' if chunks > 1 else ''} of {CHUNK_TOKENS}: a longer prompt is "
            "encoded in 75-token chunks (BREAK starts a new one), so nothing is cut off; LoRA tags do not count"
        )
        return tokens, chunks
