"""Languages the code page offers: the name users pick, the fence tag, the Pygments lexer, the file suffix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    name: str  # what users type (`--language`), lower case
    label: str  # what the picker shows
    lexer: str  # Pygments lexer alias
    suffix: str  # file suffix offered when saving
    aliases: tuple[str, ...] = ()  # other fence tags that mean this language

    @property
    def fence_tags(self) -> tuple[str, ...]:
        return (self.name, self.lexer, *self.aliases)


LANGUAGES: tuple[Language, ...] = (
    Language("python", "Python", "python", ".py", ("py", "python3")),
    Language("javascript", "JavaScript", "javascript", ".js", ("js", "node")),
    Language("typescript", "TypeScript", "typescript", ".ts", ("ts",)),
    Language("java", "Java", "java", ".java"),
    Language("c", "C", "c", ".c", ("h",)),
    Language("cpp", "C++", "cpp", ".cpp", ("c++", "cxx", "hpp")),
    Language("csharp", "C#", "csharp", ".cs", ("cs", "c#")),
    Language("go", "Go", "go", ".go", ("golang",)),
    Language("rust", "Rust", "rust", ".rs", ("rs",)),
    Language("kotlin", "Kotlin", "kotlin", ".kt", ("kt",)),
    Language("swift", "Swift", "swift", ".swift"),
    Language("ruby", "Ruby", "ruby", ".rb", ("rb",)),
    Language("php", "PHP", "php", ".php"),
    Language("bash", "Shell (bash)", "bash", ".sh", ("sh", "shell", "zsh")),
    Language("powershell", "PowerShell", "powershell", ".ps1", ("ps1", "pwsh")),
    Language("sql", "SQL", "sql", ".sql"),
    Language("html", "HTML", "html", ".html"),
    Language("css", "CSS", "css", ".css"),
    Language("json", "JSON", "json", ".json"),
    Language("yaml", "YAML", "yaml", ".yaml", ("yml",)),
)

DEFAULT_LANGUAGE = "python"


def language_names() -> list[str]:
    return [language.name for language in LANGUAGES]


def get_language(name: str) -> Language:
    """The language for a name or fence tag (any case); ValueError listing the choices otherwise."""
    wanted = name.strip().lower()
    for language in LANGUAGES:
        if wanted == language.name or wanted in language.fence_tags or wanted == language.label.lower():
            return language
    raise ValueError(f"unknown language {name!r}; choose one of: {', '.join(language_names())}")


def find_language(tag: str) -> Language | None:
    """The language a fence tag names, or None for an unknown or empty tag."""
    try:
        return get_language(tag) if tag.strip() else None
    except ValueError:
        return None


def language_for_file(name: str) -> Language | None:
    """The language a file name's suffix says (".py" → Python), or None."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for language in LANGUAGES:
        if suffix and suffix in (language.suffix, *(f".{alias}" for alias in language.aliases)):
            return language
    return None
