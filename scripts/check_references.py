#!/usr/bin/env python3
"""Checks that the repository's references point at something that exists.

Scans the C++ sources, tests, benchmarks, the reference, scripts and Markdown docs for
  - repository paths (`src/nn/model.h`, `kernels/cpu/gemm.h`, `docs/ops.md`, ...): each must
    exist relative to the repository root or to src/;
  - Markdown links to local files: each must exist relative to the linking file;
  - spec citations (`SPEC §2.3`, `§13`): the section must be a heading of docs/SPEC.md.
Prints every broken reference as FILE:LINE: what, and exits 1 if there is one.

    scripts/check_references.py [REPO_ROOT]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
SCANNED = ["src", "tests", "bench", "reference", "scripts", "fuzz", "docs", "configs"]
SUFFIXES = {".h", ".cpp", ".py", ".md", ".sh", ".js", ".txt", ".cmake"}
TOP_FILES = ["README.md", "CMakeLists.txt"]
FOLDERS = ("src|docs|tests|bench|reference|scripts|configs|fuzz|cmake|kernels|nn|autograd|"
           "infer|train|core|optim|data|io|cli|serve")
PATH_RE = re.compile(r"(?<![\w./-])((?:%s)/[A-Za-z0-9_./-]*[A-Za-z0-9_]\.(?:h|cpp|md|py|json|sh|js|cmake))\b"
                     % FOLDERS)
LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SECTION_RE = re.compile(r"§\s?(\d+(?:\.\d+)?)")


def spec_sections():
    spec = ROOT / "docs" / "SPEC.md"
    if not spec.exists():
        return None
    found = set()
    for line in spec.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(\d+(?:\.\d+)?)\.?\s", line)
        if m:
            found.add(m.group(1))
    return found


def files():
    for top in TOP_FILES:
        if (ROOT / top).exists():
            yield ROOT / top
    for folder in SCANNED:
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and (p.suffix in SUFFIXES or p.name == "CMakeLists.txt"):
                yield p


def main():
    sections = spec_sections()
    broken = []
    if sections is None:
        broken.append("docs/SPEC.md: missing (sources cite it)")
        sections = set()
    for path in files():
        rel = path.relative_to(ROOT)
        if rel.as_posix() == "scripts/check_references.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in PATH_RE.finditer(line):
                ref = m.group(1)
                if not ((ROOT / ref).exists() or (ROOT / "src" / ref).exists()):
                    broken.append(f"{rel}:{lineno}: no file {ref}")
            if path.suffix == ".md":
                for m in LINK_RE.finditer(line):
                    target = m.group(1)
                    if "://" in target or target.startswith("mailto:"):
                        continue
                    if not (path.parent / target).exists():
                        broken.append(f"{rel}:{lineno}: link to missing {target}")
            if rel.as_posix() != "docs/SPEC.md":
                for m in SECTION_RE.finditer(line):
                    sec = m.group(1)
                    if sec not in sections and sec.split(".")[0] not in sections:
                        broken.append(f"{rel}:{lineno}: SPEC has no §{sec}")
    for b in broken:
        print(b)
    print(f"check_references: {len(broken)} broken reference(s)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
