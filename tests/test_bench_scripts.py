"""Every script in bench/ still runs against the library: each name it imports from `ultrarefiner` exists (the scripts
themselves need BUSI and minutes to hours, so `make test` checks what breaks them when the library moves: imports,
shell syntax, the commands and flags they call)."""
import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / 'bench').glob('*.py')) + sorted((ROOT / 'bench').glob('*.sh'))


def _imports(text: str, python: bool) -> list:
    "(module, name) pairs of every `from ultrarefiner... import ...` in Python code, or in a shell script's inline Python."
    if python:
        return [(n.module, a.name) for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ImportFrom)
                and (n.module or '').startswith('ultrarefiner') for a in n.names]
    return [(m.group(1), n.strip()) for m in re.finditer(r'from (ultrarefiner[\w.]*) import ([\w ,]+)', text)
            for n in m.group(2).split(',') if n.strip()]


def test_there_are_scripts():
    assert len(SCRIPTS) >= 5 and any(p.name == 'busi_kit.sh' for p in SCRIPTS)


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.name)
def test_bench_script_imports_and_syntax(script):
    text = script.read_text()
    if script.suffix == '.py': ast.parse(text, filename=str(script))
    else:
        r = subprocess.run(['bash', '-n', str(script)], capture_output=True, text=True)
        assert r.returncode == 0, f"{script.name}: {r.stderr}"
    for mod, name in _imports(text, script.suffix == '.py'):
        try: m = importlib.import_module(mod)
        except ImportError as e: raise AssertionError(f"{script.name} imports {mod}, which does not exist ({e})")
        assert hasattr(m, name), f"{script.name} imports {name} from {mod}, which has no such name"


@pytest.mark.parametrize('script', [p for p in SCRIPTS if p.suffix == '.sh'], ids=lambda p: p.name)
def test_bench_script_commands_parse(script):
    "Each `ultrarefiner SUB-COMMAND --flags` line of a shell script names a sub-command and flags the CLI knows."
    from ultrarefiner.cli import build_parser
    parser = build_parser()
    text = re.sub(r'\\\n\s*', ' ', script.read_text())
    for line in text.splitlines():
        m = re.search(r'\$BIN/ultrarefiner (\S+)(.*)', line)
        if not m: continue
        sub = parser._subparsers._group_actions[0].choices
        assert m.group(1) in sub, f"{script.name}: unknown sub-command {m.group(1)}"
        flags = re.findall(r'(?<!\S)(--[\w-]+)', m.group(2))
        known = {o for a in sub[m.group(1)]._actions for o in a.option_strings}
        assert not set(flags) - known, f"{script.name}: {m.group(1)} has no flag(s) {sorted(set(flags) - known)}"
