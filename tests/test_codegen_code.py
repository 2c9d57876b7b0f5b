"""Code handling without a model: fenced-block extraction, the Python syntax check, languages, prompts."""

from __future__ import annotations

import pytest

from latentstudio.codegen import check_syntax, extract_code, extract_code_blocks, get_language
from latentstudio.codegen.prompts import FALLBACK_TEMPLATE, build_messages, render_prompt

PYTHON = get_language("python")


def test_answer_without_fences_is_all_code() -> None:
    answer = "def f():\n    return 1\n"
    assert extract_code_blocks(answer) == []
    assert extract_code(answer, PYTHON) == answer


def test_one_block_is_extracted_without_the_prose() -> None:
    answer = "Sure, here it is:\n```python\nprint('hi')\n```\nThat prints hi."
    blocks = extract_code_blocks(answer)
    assert [(b.tag, b.code, b.closed) for b in blocks] == [("python", "print('hi')\n", True)]
    assert extract_code(answer, PYTHON) == "print('hi')\n"


def test_several_blocks_keep_those_in_the_language() -> None:
    answer = (
        "First:\n```py\nimport os\n```\nThen run:\n```bash\npython app.py\n```\n"
        "and finally\n~~~\nprint(os.getcwd())\n~~~\n"
    )
    blocks = extract_code_blocks(answer)
    assert [b.tag for b in blocks] == ["py", "bash", ""]
    assert extract_code(answer, PYTHON) == "import os\n\nprint(os.getcwd())\n"
    # An untagged block may be in any language; tagged ones in another language are left out.
    assert extract_code(answer, get_language("rust")) == "print(os.getcwd())\n"


def test_no_block_in_the_language_means_every_block_is_code() -> None:
    answer = "```py\nimport os\n```\n```bash\nls\n```\n"
    assert extract_code(answer, get_language("rust")) == "import os\n\nls\n"


def test_a_block_cut_off_by_stop_runs_to_the_end() -> None:
    blocks = extract_code_blocks("Here:\n```python\ndef f(:\n    ret")
    assert len(blocks) == 1 and not blocks[0].closed
    assert blocks[0].code == "def f(:\n    ret"


def test_longer_fence_may_hold_a_shorter_one() -> None:
    answer = "````markdown\nUse ```python fences\n````\n"
    assert extract_code_blocks(answer)[0].code == "Use ```python fences\n"


def test_python_syntax_ok() -> None:
    report = check_syntax("def add(a, b):\n    return a + b\n", "python")
    assert report.checked and report.ok and report.line is None


def test_python_syntax_error_reports_its_line_and_message() -> None:
    code = "import os\n\ndef broken(:\n    pass\n"
    report = check_syntax(code, "python")
    assert report.checked and report.ok is False
    assert report.line == 3
    assert report.message == "invalid syntax"
    assert "line 3" in report.describe()


def test_python_indentation_error_line() -> None:
    report = check_syntax("if True:\n    x = 1\n  y = 2\n", "python")
    assert report.ok is False and report.line == 3
    assert "indent" in report.message


def test_syntax_check_never_runs_the_code(tmp_path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\n"
    assert check_syntax(code, "python").ok
    assert not marker.exists()


def test_null_bytes_are_reported_not_raised() -> None:
    report = check_syntax("x = 1\x00\n", "python")
    assert report.ok is False and report.message


def test_an_empty_answer_has_no_code_rather_than_valid_code() -> None:
    report = check_syntax("  \n", "python")
    assert not report.checked and report.describe() == "python: no code"


def test_other_languages_are_not_checked() -> None:
    report = check_syntax("fn main() {", "rust")
    assert not report.checked and report.ok is None
    assert "not checked" in report.describe()


@pytest.mark.parametrize("name, expected", [("Python", "python"), ("py", "python"), ("C++", "cpp"), ("sh", "bash")])
def test_language_names_and_tags(name: str, expected: str) -> None:
    assert get_language(name).name == expected


def test_unknown_language_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of: python"):
        get_language("klingon")


def test_messages_ask_for_the_language_and_carry_the_context() -> None:
    messages = build_messages("Add type hints", PYTHON, context="def f(x):\n    return x\n", context_name="f.py")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Python" in messages[0]["content"] and "```python" in messages[0]["content"]
    assert messages[1]["content"].startswith("Add type hints")
    assert "(f.py)" in messages[1]["content"]
    assert "```python\ndef f(x):\n    return x\n```" in messages[1]["content"]


class _NoTemplate:
    chat_template = None


class _SystemRefusingTemplate:
    chat_template = "…"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        if any(m["role"] == "system" for m in messages):
            raise RuntimeError("System role not supported")
        return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"


def test_fallback_prompt_without_a_chat_template() -> None:
    text = render_prompt(_NoTemplate(), build_messages("Reverse a string", PYTHON))
    assert text.startswith("### System:\n")
    assert text.endswith("### User:\nReverse a string\n\n### Assistant:\n")
    assert FALLBACK_TEMPLATE.endswith("### Assistant:\n")


def test_system_prompt_folded_into_user_turn_when_template_refuses_it() -> None:
    text = render_prompt(_SystemRefusingTemplate(), build_messages("Reverse a string", PYTHON))
    assert text.startswith("user:You are an expert Python programmer")
    assert "Reverse a string|assistant:" in text
