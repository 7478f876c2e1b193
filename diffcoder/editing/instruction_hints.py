"""What an edit instruction points at beyond the cursor: words that mean "elsewhere in the file",
words that mean "the class", and the identifiers it names.
"""

from __future__ import annotations

import re

# New top-level code or edits elsewhere: imports, helpers, renames, "everywhere", constants.
_FILE_WORDS = re.compile(
    r"\bimport(?:s|ing|ed)?\b|\bmodules?\b|\blibrar(?:y|ies)\b|\bpackages?\b|\bhelpers?\b"
    r"|\b(?:new|another|separate|second|additional|extra|auxiliary|utility) (?:\w+ )?functions?\b"
    r"|\beverywhere\b|\bthroughout\b|\bacross\b|\bcall ?sites?\b|\bcallers?\b|\brename\b"
    r"|\ball (?:the |other )?(?:functions|methods|classes|occurrences|usages|uses|calls|places)\b"
    r"|\bevery (?:function|method|class|call|occurrence)\b|\bglobal(?:ly|s)?\b|\bconstants?\b"
    r"|\b(?:whole|entire) (?:file|module|program|script|code)\b|\b(?:module|top)[- ]level\b"
    r"|\bdecorators?\b|\bdataclass(?:es)?\b|\bexception class\b|\bcustom exceptions?\b|\benum\b"
    r"|\bfunctions\b|\bindent(?:s|ed|ation)?\b|\bpep ?8\b|\blint(?:er|ing)?\b|\bcode style\b"
    r"|\b(?:create|add|write|implement|define|introduce)\s+(?:a|an|another)\s+(?:new\s+)?(?:\w+\s+)?"
    r"(?:function|helper|class)\b",
    re.IGNORECASE,
)
# The enclosing class (or the file when there is none).
_CLASS_WORDS = re.compile(
    r"\bclass(?:es)?\b|\bconstructor\b|__init__|\battributes?\b|\bfields?\b|\bmembers?\b"
    r"|\bproperty\b|\bproperties\b|\binstance variables?\b|\bself\.\w+"
    r"|\bmethods\b|\b(?:new|another|separate|other|every) method\b"
    r"|\b(?:create|add|write|implement|define|introduce)\s+(?:a|an|another)\s+(?:new\s+)?(?:\w+\s+)?"
    r"method\b",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = re.compile(r"`([^`]+)`|'([^'\s]+)'|\"([^\"\s]+)\"")
# Plain lowercase words too common in instructions to be read as naming a definition.
_COMMON_TEXT = """
    a an the and or not no to of in on for with by from as at is are be it its this that if
    else then when while so do does add all any use list dict set map sum min max count sort
    sorted filter print get put pop result results value values data item items key keys index
    name names number numbers num total text string str line lines word words char file path
    size length len input output node nodes array arr matrix element elements test tests self
    args kwargs config options error errors type types return function method class new old
"""
_COMMON_WORDS = frozenset(_COMMON_TEXT.split())


def file_word(instruction: str) -> str | None:
    """The first word that points outside the current function, if any."""
    match = _FILE_WORDS.search(instruction)
    return match.group() if match else None


def class_word(instruction: str) -> str | None:
    """The first word that points at the enclosing class, if any."""
    match = _CLASS_WORDS.search(instruction)
    return match.group() if match else None


def mentioned_names(instruction: str) -> set[str]:
    """Identifiers the instruction may refer to: quoted or code-like words, and uncommon words."""
    names = {
        word
        for groups in _QUOTED.findall(instruction)
        for quoted in groups
        for word in _IDENTIFIER.findall(quoted)
    }
    for match in _IDENTIFIER.finditer(instruction):
        word = match.group()
        called = instruction[match.end() : match.end() + 1] == "("
        code_like = not word.islower() or "_" in word or not word.isalpha()
        if called or code_like or (word not in _COMMON_WORDS and len(word) > 2):
            names.add(word)
    return names
