"""Editors' and operators' commands for the knowledge base.

python -m knowledge validate        schema, numbers, placeholders, translations, review dates
python -m knowledge stamp           record the English text's hash in unstamped translations
python -m knowledge build-index     embed the example questions into var/index/
python -m knowledge export          write the published content (DATABASE_URL) into the YAML
python -m knowledge import          publish what the YAML holds that the database does not
"""

from __future__ import annotations

import argparse
import sys
import time

from knowledge.store import LoadError, load


def _validate(args) -> int:
    from knowledge.validate import check

    try:
        kb = load()
    except LoadError as exc:
        print("\n".join(f"ERROR {p}" for p in exc.problems))
        return 1
    report = check(kb)
    for w in report.warnings:
        print(f"warning {w}")
    for e in report.errors:
        print(f"ERROR {e}")
    print(
        f"{len(kb.entries)} entries, {len(kb.services)} services: "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    )
    return 1 if report.errors or (args.strict and report.warnings) else 0


def _stamp(args) -> int:
    from knowledge.stamp import stamp_all

    changed = stamp_all(load())
    print(f"stamped {changed} translation(s)")
    return 0


def _build_index(args) -> int:
    from knowledge import model_store
    from knowledge.index import Index

    start = time.perf_counter()
    kb = load()
    model = model_store.load()
    index = Index.build(kb, model)
    index.save()
    print(
        f"    indexed {len(index.row_entry)} example questions of {len(kb.entries)} entries "
        f"in {time.perf_counter() - start:.1f}s"
    )
    return 0


def _engine():
    from sqlalchemy import create_engine

    from common.storage import database_url

    url = database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url)


def _export(args) -> int:
    from knowledge import content

    written = content.export_yaml(_engine())
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) written")
    return 0


def _import(args) -> int:
    from knowledge import content

    try:
        done = content.import_yaml(_engine(), load(), author=args.author)
    except LoadError as exc:
        print("\n".join(f"ERROR {p}" for p in exc.problems))
        return 1
    except content.Invalid as exc:
        print("\n".join(f"ERROR {p.entry_id}: {p.loc}: {p.message}" for p in exc.problems))
        return 1
    for item in done:
        print(f"published {item}")
    print(f"{len(done)} item(s) published")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate")
    v.add_argument("--strict", action="store_true", help="fail on warnings too")
    v.set_defaults(func=_validate)
    sub.add_parser("stamp").set_defaults(func=_stamp)
    sub.add_parser("build-index").set_defaults(func=_build_index)
    sub.add_parser("export").set_defaults(func=_export)
    i = sub.add_parser("import")
    i.add_argument("--author", default="repository", help="recorded with each new version")
    i.set_defaults(func=_import)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
