"""Writes every config block that is not code from the core's one declaration of each field
(`core/src/config/fields.rs`, read through the built extension's `_config_fields()`).

    python tools/gen_config.py          # rewrite the blocks (`make gen`)
    python tools/gen_config.py --check  # fail if a block is stale (`make lint`)

Each block sits between a BEGIN GENERATED and an END GENERATED line in its file.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

from fact_resilience import _native

ROOT = Path(__file__).resolve().parents[1]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def py_value(v: Any) -> str:
    return repr(v)


def stub_value(v: Any) -> str:
    # A stub's defaults must be simple (flake8-pyi); a dict's is written `...`.
    return "..." if isinstance(v, dict) else repr(v)


def in_js(f: dict[str, Any]) -> bool:
    return bool(f["core"])


def js_value(v: Any) -> str:
    if isinstance(v, dict):
        return json.dumps(v)
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    return repr(v).removesuffix(".0")


def md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def docstring(text: str, indent: str = "    ") -> str:
    one = f'{indent}"""{text}"""'
    if len(one) <= 100:
        return one
    body = textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent)
    return f'{indent}"""\n{body}\n{indent}"""'


def pyi(fields: list[dict[str, Any]]) -> str:
    lines = ["    def __new__(", "        cls,"]
    keyword_only = False
    for f in fields:
        if not f["positional"] and not keyword_only:
            lines.append("        *,")
            keyword_only = True
        lines.append(f"        {f['name']}: {f['kind']} = {stub_value(f['default'])},")
    lines.append("    ) -> Self: ...")
    for f in fields:
        kind = "float" if f["name"] == "recovery_timeout" else f["kind"]
        lines.append(f"    {f['name']}: {kind}")
        lines.append(docstring(f["doc"]))
    return "\n".join(lines)


def typescript(fields: list[dict[str, Any]]) -> str:
    lines = ["export interface Config {"]
    for f in (f for f in fields if in_js(f)):
        ts = {
            "int": "number",
            "float": "number",
            "bool": "boolean",
            "dict[str, float]": "Record<string, number>",
        }.get(f["kind"], "number | null")
        unit = f" In {f['unit']}." if f["unit"] else ""
        lines.append(f"  /** {f['doc']}{unit} Default {js_value(f['default'])}; {f['rule']}. */")
        lines.append(f"  {camel(f['name'])}?: {ts};")
    lines.append("}")
    return "\n".join(lines)


def js_table(fields: list[dict[str, Any]]) -> str:
    readers = {
        "int": "count",
        "float": "number",
        "bool": "boolean",
        "Optional[int]": "count?",
        "Optional[float]": "number?",
        "dict[str, float]": "weights",
    }
    lines = ["export const CONFIG_FIELDS = ["]
    for f in fields:
        lines.append(
            f'  ["{camel(f["name"])}", "{readers[f["kind"]]}", {json.dumps(f["requirement"])}, '
            f"{js_value(f['default'])}],"
        )
    lines.append("];")
    return "\n".join(lines)


def table(fields: list[dict[str, Any]], name: Callable[[str], str], value: Callable[[Any], str]) -> str:
    rows = [
        "| field | default | unit | rule | what it does |",
        "|---|---|---|---|---|",
    ]
    for f in fields:
        rows.append(
            f"| `{name(f['name'])}` | `{value(f['default'])}` | {f['unit']} | "
            f"{md_cell(f['rule'])} | {md_cell(f['doc'])} |"
        )
    return "\n".join(rows)


def blocks() -> dict[Path, str]:
    fields: list[dict[str, Any]] = list(_native._config_fields())
    core = sorted((f for f in fields if f["core"]), key=lambda f: int(f["index"]))
    js = [f for f in core if in_js(f)]
    return {
        ROOT / "bindings-py/python/fact_resilience/_native.pyi": pyi(fields),
        ROOT / "bindings-wasm/src/lib.rs": typescript(fields),
        ROOT / "bindings-wasm/js/config_fields.js": js_table(js),
        ROOT / "bindings-py/README.md": table(fields, str, py_value),
        ROOT / "bindings-wasm/js/README.md": table(js, camel, js_value),
        ROOT / "tests/vectors/README.md": table(core, str, js_value),
    }


BLOCK = re.compile(r"(BEGIN GENERATED[^\n]*\n)(.*?)(^[^\n]*END GENERATED)", re.S | re.M)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in blocks().items():
        old = path.read_text()
        found = BLOCK.findall(old)
        if len(found) != 1:
            print(f"{path.relative_to(ROOT)}: needs exactly one BEGIN/END GENERATED block", file=sys.stderr)
            return 2
        new = BLOCK.sub(lambda m: m.group(1) + text + "\n" + m.group(3), old)
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new)
    if check and stale:
        names = ", ".join(map(str, stale))
        print(f"stale generated config blocks in {names}: run `make gen`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
