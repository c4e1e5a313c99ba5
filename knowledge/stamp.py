"""Writes `source_hash:` into translations that have none, editing the YAML text in place so
the editor's formatting and comments survive."""

from __future__ import annotations

from knowledge.schema import source_hash
from knowledge.store import KnowledgeBase, _line_of


def stamp_all(kb: KnowledgeBase) -> int:
    changed = 0
    for entry in kb.entries.values():
        path = kb.paths[entry.id]
        want = source_hash(entry.answer["en"])
        inserts = []
        for lang, t in entry.translations.items():
            if t.source_hash is None:
                line = _line_of(path, ("translations", lang, "status"))
                if line:
                    inserts.append(line)
        if not inserts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for line in sorted(inserts, reverse=True):
            status_line = lines[line - 1]
            indent = status_line[: len(status_line) - len(status_line.lstrip())]
            lines.insert(line, f"{indent}source_hash: {want}\n")
        path.write_text("".join(lines), encoding="utf-8")
        changed += len(inserts)
    return changed
