#!/usr/bin/env python3
"""Build the docs the way the deploy workflow does, up to Quarto, and check what a reader of the site will see.

`nbdev_docs` (nbdev 2.4.14) refreshes nbs/nbdev.yml, writes the sidebar (not here: custom_sidebar = True), runs every
notebook through nbdev's docs processors (`proc_nbs`: show_doc cells are added and executed, together with every
exported cell and every cell that contains an import) and then runs `quarto render`. Quarto cannot be installed on
our machines, so this script runs everything before the render, exactly as `proc_nbs` does (the same file list,
`_proc_file` and `nbdev.serve_drv.main`, run from the repository root), into a temporary folder, one process per
notebook with a time limit. Then it checks the processed notebooks:

- processing: no error (the notebook and the cell are named) and no notebook over the time limit; no `#| gpu` or
  `#| slow` cell that the processors would execute (nbdev runs every cell that exports, imports or calls show_doc,
  whatever its test flags);
- intro: the first cell after the title is the chapter's intro (>= 30 words) with the Colab badge of that notebook
  (the badge is not required on pages without code);
- code size: every shown code cell (after processing: plain cells and `#| exports` cells, not show_doc output) and
  every exported cell (`export`, `exporti`, `exports`: the library's source) has <= 30 lines and no line over
  100 characters. A cell whose first code line is a `# long: <reason>` comment is exempt, and listed;
- cell options: the `#| key: value` lines Quarto reads are valid YAML with no key twice (Quarto rejects both);
- figures: drawn through `videomla.figures` (no `plt.subplots(`, `plt.figure(`, `dpi=` or fonts under 9 pt in a
  notebook's code, except in 91_figures, which defines the helper);
- words: no citation of unpublished notes (paper.md, references.md, ...) and no words of our own process
  ("a later issue", "the session", "the lead") in prose, comments or docstrings;
- site: nbs/nbdev.yml is what nbdev would write, and the sidebar lists exactly the notebooks in nbs/;
- shown source: every module notebook (`#| default_exp`) shows the source of at least one exported name
  (`#| exports`); the report lists, per notebook, which exported names have their source shown.

usage: python .ci/docs_check.py [--timeout S] [--jobs N] [--keep DIR] [NOTEBOOK ...]
Exit status 1 on any failure, with one line per failure (and the processing traceback of a notebook that failed).
"""
from __future__ import annotations
import argparse, ast, json, os, re, shutil, signal, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES, MAX_CHARS = 30, 100
LONG_OK = re.compile(r'^#\s*long:\s*\S')
BADGE = 'https://colab.research.google.com/github/videomla/videomla/blob/main/nbs/{}'
# Unpublished notes and words about how the book was made; readers cannot follow either.
INTERNAL = re.compile(r'\b(?:paper|references|toolchain|style|tinyworld-diagnosis)\.md\b'
                      r'|\b(?:a|this|that|the|later|next|earlier|previous|future|another|separate|follow-up) issue\b'
                      r'|\bissue #?\d+|\bthe lead\b|\b(?:this|that|the|a|later|earlier|previous|next) session\b'
                      r'|\bthe brief\b', re.I)
FIGURE = re.compile(r'\bplt\.(?:subplots|figure)\(|\bdpi\s*=|fontsize\s*=\s*[0-8](?:\.\d+)?\b'
                    r"|fontsize\s*=\s*'(?:xx-small|x-small|small)'")
FIGURE_HELPER_NB = '91_figures.ipynb'
WORKER = ('import sys; from pathlib import Path; import nbdev.serve_drv as d; '
          'from nbdev.processors import FilterDefaults; '
          'd.main((Path(sys.argv[1]), Path(sys.argv[2]), FilterDefaults))')


def _src(cell) -> str:
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def _split_directives(src: str):
    "(leading `#|` lines, the code lines after them)"
    lines = src.splitlines()
    i = 0
    while i < len(lines) and (lines[i].lstrip().startswith('#|') or not lines[i].strip()): i += 1
    return lines[:i], lines[i:]


def _directives(src: str) -> dict:
    "nbdev's view of a cell's directives: {'export': [], 'eval:': ['false'], ...} (keys as nbdev keeps them)."
    out = {}
    for line in _split_directives(src)[0]:
        s = line.strip()[2:].strip()
        if not s: continue
        if s.endswith(':'): s = s[:-1]
        s = s.replace(':', ': ') if ':' in s else s
        k, *args = s.split()
        out[k] = args
    return out


# -- processing, as `proc_nbs` does it ------------------------------------------------------------------------------

def files_to_process(nbs: Path, cache: Path):
    "The (src, dst) notebook jobs of `proc_nbs(nbs)` writing into `cache`; other files are copied as it copies them."
    from nbdev.doclinks import nbglob
    from nbdev.serve import _proc_file
    files = nbglob(nbs, func=Path, file_glob='', file_re='')
    for extra in ('_quarto.yml', '_brand.yml'):
        if (nbs / extra).exists(): files.append(nbs / extra)
    jobs = []
    for f in files:
        r = _proc_file(f, cache=cache, path=nbs)
        if r is not None:
            if r[0].suffix != '.ipynb': raise SystemExit(f'FAIL: {r[0]}: a .py page with frontmatter; not checked here')
            jobs.append((r[0], r[1]))
    return jobs


def process_one(src: Path, dst: Path, timeout: float):
    "Run nbdev's docs processors on one notebook in a fresh process: (seconds, error or None, log tail)."
    t0 = time.time()
    p = subprocess.Popen([sys.executable, '-c', WORKER, str(src), str(dst)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return time.time() - t0, f'processing took over {timeout:g} s (a slow or GPU cell executed by nbdev?)', ''
    if p.returncode == 0: return time.time() - t0, None, ''
    tail = '\n'.join(l for l in (out + err).splitlines() if l.strip() and 'UserWarning' not in l)[-1500:]
    return time.time() - t0, _explain(src, out + err), tail


def _explain(src: Path, log: str) -> str:
    "The failing cell (source index and first lines) and the root error, from a processing traceback."
    lines = [l for l in log.rstrip().splitlines() if l.strip()]
    cause = next((lines[i - 1] for i, l in enumerate(lines) if l.startswith('The above exception was the direct cause')
                  and i > 0), None)
    if cause is None:
        cause = next((l for l in reversed(lines) if re.match(r'^\w[\w.]*(Error|Exception|Exit)\b', l)),
                     lines[-1] if lines else 'no output')
    m = re.search(r'Error(?: in notebook: .*?)? in cell \d+ :\n(.*?)(?:\nTraceback|\Z)', log, re.S)
    where = 'cell ?'
    if m:
        body = '\n'.join(_split_directives(m.group(1))[1]).strip()
        cells = json.loads(src.read_text())['cells']
        idx = next((i for i, c in enumerate(cells) if body and body in _src(c)), None)
        first = body.splitlines()[0] if body else ''
        where = f'cell {idx} ({first[:70]!r})' if idx is not None else f'a generated cell ({first[:70]!r})'
    return f'{where}: {str(cause).strip()}'


# -- checks ---------------------------------------------------------------------------------------------------------

def _top_names(src: str) -> list[str]:
    "Names a cell defines at top level (functions, classes, assignments)."
    try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith('%')))
    except SyntaxError: return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names += [n.id for n in ([t] if isinstance(t, ast.Name) else getattr(t, 'elts', []))
                          if isinstance(n, ast.Name)]
    return [n for n in names if not n.startswith('_')]


def _size_problems(code_lines: list[str]) -> list[str]:
    while code_lines and not code_lines[-1].strip(): code_lines = code_lines[:-1]
    if code_lines and LONG_OK.match(code_lines[0].strip()): return []
    out = []
    if len(code_lines) > MAX_LINES: out.append(f'{len(code_lines)} lines (> {MAX_LINES})')
    long = [(i + 1, len(l)) for i, l in enumerate(code_lines) if len(l) > MAX_CHARS]
    if long: out.append(f'{len(long)} line(s) over {MAX_CHARS} chars (line {long[0][0]}: {long[0][1]})')
    return out


def _comments_and_strings(src: str) -> str:
    "The prose inside code: comments and string constants (docstrings)."
    parts = re.findall(r'#(?!\|).*', src)
    try: parts += [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    except SyntaxError: pass
    return '\n'.join(parts)


def _docs_would_run(d: dict, code: str) -> bool:
    "Would nbdev's `exec_show_docs` execute this cell? (its `_do_eval` rule, without building an NbCell)"
    if d.get('eval:', [''])[0].lower() == 'false': return False
    if {'export', 'exports', 'exporti', 'exec_doc'} & d.keys(): return True
    try: tree = ast.parse('\n'.join(l for l in code.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)) or \
        any(isinstance(n, ast.Expr) and getattr(getattr(n.value, 'func', None), 'id', None) == 'show_doc'
            for n in tree.body)


def check_source(path: Path) -> tuple[list[str], dict]:
    "Checks on the source notebook: exported code size, figures, words; and what it exports (hidden or shown)."
    fails, info = [], {'shown': [], 'hidden': [], 'exempt': [], 'module': False}
    cells = json.loads(path.read_text())['cells']
    for i, c in enumerate(cells):
        src = _src(c)
        if c['cell_type'] == 'markdown':
            for m in INTERNAL.finditer(src): fails.append(f'cell {i}: prose cites or says {m.group(0)!r}')
            continue
        if c['cell_type'] != 'code': continue
        d, (_, code) = _directives(src), _split_directives(src)
        if 'default_exp' in d: info['module'] = True
        exported = bool({'export', 'exporti', 'exports'} & d.keys())
        if exported:
            for p in _size_problems(code): fails.append(f'cell {i} (exported): {p}')
            kind = 'shown' if 'exports' in d else 'hidden'
            info[kind] += [n for n in _top_names('\n'.join(code)) if n not in info[kind]]
        if code and LONG_OK.match(code[0].strip()): info['exempt'].append(f'cell {i}: {code[0].strip()}')
        if {'gpu', 'slow'} & d.keys() and _docs_would_run(d, '\n'.join(code)):
            fails.append(f'cell {i}: a `#| {"gpu" if "gpu" in d else "slow"}` cell that nbdev_docs would execute '
                         '(it exports, imports or calls show_doc): move its imports to an import-only cell')
        if path.name != FIGURE_HELPER_NB and 'eval:' not in d:
            for m in FIGURE.finditer('\n'.join(l.split('#')[0] for l in code)):
                fails.append(f'cell {i}: {m.group(0)!r}: draw figures with videomla.figures.new_figure')
        if exported or 'hide' not in d:
            for m in INTERNAL.finditer(_comments_and_strings('\n'.join(code))):
                fails.append(f'cell {i}: code comment or docstring says {m.group(0)!r}')
    return fails, info


def check_processed(src: Path, dst: Path) -> list[str]:
    "Checks on the notebook as Quarto will receive it."
    fails = []
    nb = json.loads(dst.read_text())
    cells = nb['cells']
    ids = {c.get('id'): i for i, c in enumerate(json.loads(src.read_text())['cells'])}
    fm = next((c for c in cells if c['cell_type'] == 'raw' and _src(c).startswith('---')), None)
    if fm is None: fails.append('no title: the first markdown cell must be "# Title" and "> subtitle"')
    else:
        try: meta = yaml.safe_load(_src(fm).strip().strip('-'))
        except yaml.YAMLError as e: meta = None; fails.append(f'frontmatter is not YAML: {e}')
        if meta is not None and not meta.get('title'): fails.append('frontmatter has no title')
    prose = [c for c in cells if c['cell_type'] == 'markdown' and 'AUTOGENERATED' not in _src(c)]
    has_code = any(c['cell_type'] == 'code' for c in json.loads(src.read_text())['cells'])
    intro = _src(prose[0]) if prose else ''
    if not prose or len(intro.split()) < 30: fails.append('intro: the cell after the title is missing or under 30 words')
    if has_code and BADGE.format(src.name) not in intro:
        fails.append(f'intro: no Colab badge linking to {BADGE.format(src.name)}')
    for c in cells:
        if c['cell_type'] != 'code': continue
        s = _src(c)
        opts, code = _split_directives(s)
        where = f'cell {ids.get(c.get("id"), "?")}'
        keys = [o.strip()[2:].split(':')[0].strip() for o in opts if ':' in o]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup: fails.append(f'{where}: cell option(s) {dup} given twice (Quarto rejects it)')
        try: o = yaml.safe_load('\n'.join(o.strip()[2:] for o in opts if o.strip()) or '{}')
        except yaml.YAMLError as e:
            o = {}; fails.append(f'{where}: cell options are not YAML: {str(e).splitlines()[0]}')
        if not isinstance(o, dict): o = {}
        if o.get('echo') is False or o.get('include') is False or re.match(r'show_doc\(', '\n'.join(code)): continue
        if o.get('code-summary') == 'Exported source': continue  # an `exports` cell: checked as exported code
        for p in _size_problems(code): fails.append(f'{where} (shown): {p}')
    return fails


def check_site(nbs: Path) -> list[str]:
    fails = []
    from nbdev.config import get_config
    import nbdev.quarto as q
    cfg = get_config()
    vals = {k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
    vals['doc_path'] = cfg.doc_path.name
    if (nbs / 'nbdev.yml').read_text() != q._nbdev_yml.format(**vals):
        fails.append('nbs/nbdev.yml: differs from what nbdev_docs writes from settings.ini (it would change on deploy)')
    side = yaml.safe_load((nbs / 'sidebar.yml').read_text())
    listed = []
    def walk(items):
        for it in items:
            if isinstance(it, str): listed.append(it)
            elif isinstance(it, dict): walk(it.get('contents', []))
    walk(side['website']['sidebar']['contents'])
    have = sorted(p.name for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    for f in sorted(set(listed) - set(have)): fails.append(f'sidebar.yml lists {f}, which does not exist')
    for f in sorted(set(have) - set(listed)): fails.append(f'sidebar.yml does not list {f}')
    for f in sorted({f for f in listed if listed.count(f) > 1}): fails.append(f'sidebar.yml lists {f} twice')
    return fails


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='only these notebooks (default: every notebook in nbs/)')
    ap.add_argument('--timeout', type=float, default=180, help='seconds one notebook may take to process')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2, help='notebooks processed at once')
    ap.add_argument('--keep', default=None, help='write the processed notebooks here (default: a temporary folder)')
    a = ap.parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    nbs = ROOT / 'nbs'
    cache = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='docs_check_'))
    if a.keep and cache.exists(): shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        jobs = files_to_process(nbs, cache)
        if a.notebooks:
            want = {Path(n).name for n in a.notebooks}
            unknown = want - {s.name for s, _ in jobs}
            if unknown: raise SystemExit(f'not notebooks of the docs: {sorted(unknown)}')
            jobs = [j for j in jobs if j[0].name in want]
        print(f'processing {len(jobs)} notebooks with nbdev {_nbdev_version()} docs processors, {a.jobs} at a time, '
              f'into {cache}', flush=True)
        with ThreadPoolExecutor(a.jobs) as ex:
            done = list(ex.map(lambda j: (j, *process_one(*j, a.timeout)), jobs))
        failures, shown = {}, {}
        for (src, dst), secs, err, log in sorted(done, key=lambda r: r[0][0].name):
            fails = [f'processing failed at {err}'] if err else check_processed(src, dst)
            sfails, info = check_source(src)
            fails += sfails
            if info['module'] and not info['shown']:
                fails.append('no exported source is shown: mark the lesson code `#| exports`')
            shown[src.name] = info
            print(f'{"ok  " if not fails else "FAIL"} {src.name:<22} {secs:5.1f}s  shows {len(info["shown"])} of '
                  f'{len(info["shown"]) + len(info["hidden"])} exported names'
                  + (f', {len(info["exempt"])} long cell(s)' if info['exempt'] else ''), flush=True)
            if log: print('     ' + log.replace('\n', '\n     '), flush=True)
            if fails: failures[src.name] = fails
        if not a.notebooks:
            site = check_site(nbs)
            if site: failures['site'] = site
        print('\nexported names whose source the site shows:')
        for name, info in shown.items():
            if info['shown'] or info['hidden']:
                print(f'  {name}: {", ".join(info["shown"]) or "-"}'
                      + (f'  (hidden: {", ".join(info["hidden"])})' if info['hidden'] else ''))
        exempt = [(n, e) for n, i in shown.items() for e in i['exempt']]
        if exempt:
            print('long cells with a stated reason:')
            for n, e in exempt: print(f'  {n} {e}')
        if failures:
            print(f'\nFAIL: {sum(map(len, failures.values()))} problem(s) in {len(failures)} notebook(s):')
            for name, fails in failures.items():
                for f in fails: print(f'  {name}: {f}')
        print(f'\ndocs check {"FAILED" if failures else "passed"} in {time.time() - t0:.0f} s')
        return 1 if failures else 0
    finally:
        if not a.keep: shutil.rmtree(cache, ignore_errors=True)


def _nbdev_version() -> str:
    import nbdev
    return nbdev.__version__


if __name__ == '__main__': sys.exit(main())
