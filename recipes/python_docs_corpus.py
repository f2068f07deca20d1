"""Write a text corpus that needs no download: English sentences from the documentation that
ships with Python itself (pydoc's topic pages and the standard library's docstrings).

    python recipes/python_docs_corpus.py corpus.txt
    python recipes/relgan_text.py --data corpus.txt --scale 0.05

One sentence per line, each kept once, in a fixed order: about 11,000 sentences of 12 words on
average (Python 3.11), near the size of the COCO captions the SeqGAN and RelGAN papers train on
(10,000 sentences of about 11 words). The corpus depends on the Python version that writes it,
so write it once and keep the file with the results. Kept: sentences of 5 to 32 words, ending
in . ? or !, made of letters, digits, spaces and plain punctuation; code examples (paragraphs
with ``>>>``) and anything with brackets, operators or underscores are left out.
"""

from __future__ import annotations

import argparse
import ast
import re
import sysconfig
from pathlib import Path
from typing import Iterable, Iterator

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")
PLAIN = re.compile(r"[A-Za-z0-9 ,.;:'\"()?!-]+")


def sentences(text: str) -> Iterator[str]:
    """The plain prose sentences of ``text``, paragraph by paragraph."""
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.split("\n")]
        if any(line.startswith(">>>") for line in lines):
            continue
        for sentence in SENTENCE_END.split(" ".join(lines)):
            if 5 <= len(sentence.split()) <= 32 and sentence[-1] in ".?!" and PLAIN.fullmatch(sentence):
                yield sentence


def documentation() -> Iterator[str]:
    """pydoc's topic pages, then every docstring of the standard library (tests, IDLE and
    site-packages left out), files in sorted order."""
    from pydoc_data.topics import topics
    yield from topics.values()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if {"test", "tests", "idlelib", "site-packages"} & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue  # the stdlib keeps a few deliberately broken files (lib2to3 fixtures)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node)
                if docstring:
                    yield docstring


def corpus(texts: Iterable[str]) -> list[str]:
    """Each sentence of ``texts`` once, in first-seen order."""
    return list(dict.fromkeys(s for text in texts for s in sentences(text)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the corpus file to write (one sentence per line)")
    out = Path(parser.parse_args().out)
    lines = corpus(documentation())
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: {len(lines)} sentences, {sum(len(s.split()) for s in lines)} words")
