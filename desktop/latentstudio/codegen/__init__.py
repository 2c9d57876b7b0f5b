"""Code generation: local causal LMs, streamed and stoppable on the engine, code extraction,
syntax status and a searchable history. Qt-free; transformers is imported only inside jobs."""

from .extract import CodeBlock, extract_code, extract_code_blocks
from .generation import CodeRequest, GenerationResult, StreamPiece, run_generation
from .service import submit_code
from .history import ConversationSummary, HistoryEntry, HistoryStore
from .languages import DEFAULT_LANGUAGE, LANGUAGES, Language, get_language, language_names
from .syntax import SyntaxReport, check_syntax

__all__ = [
    "CodeBlock",
    "ConversationSummary",
    "DEFAULT_LANGUAGE",
    "CodeRequest",
    "GenerationResult",
    "HistoryEntry",
    "HistoryStore",
    "LANGUAGES",
    "Language",
    "StreamPiece",
    "SyntaxReport",
    "check_syntax",
    "extract_code",
    "extract_code_blocks",
    "get_language",
    "language_names",
    "run_generation",
    "submit_code",
]
