"""pytest runs every notebook in nbs/ through nbdev's own runner, plus plain tests in tests/.

Each notebook is one test item. nbdev's directives are honoured (`#| eval: false`, and the `tst_flags` of
settings.ini: `gpu` and `slow` cells are skipped unless forced with `--nbflags "gpu slow"`).
`--save-outputs` writes the executed outputs back into the notebook (how the stored outputs the docs show are made);
run `nbdev_clean` afterwards.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).parent


def pytest_addoption(parser):
    parser.addoption('--nbflags', default='', help='space-separated nbdev test flags to run (e.g. "gpu slow")')
    parser.addoption('--save-outputs', action='store_true', help='write executed cell outputs back into the notebooks')


def pytest_collect_file(parent, file_path):
    if file_path.suffix == '.ipynb' and file_path.parent.name == 'nbs' and not file_path.name.startswith('_'):
        return NotebookFile.from_parent(parent, path=file_path)


class NotebookFile(pytest.File):
    def collect(self): yield NotebookItem.from_parent(self, name=self.path.name)


class NotebookItem(pytest.Item):
    def runtest(self):
        from nbdev.config import get_config
        from nbdev.test import test_nb
        skip = get_config().tst_flags.split()
        force = self.config.getoption('--nbflags').split()
        if self.config.getoption('--save-outputs'): return _run_and_save(self.path, skip, force)
        ok, secs = test_nb(self.path, skip_flags=skip, force_flags=force, basepath=ROOT)
        if not ok: raise NotebookFailed(self.path.name)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, NotebookFailed): return f'{excinfo.value} failed: see the traceback on stderr above'
        return super().repr_failure(excinfo)

    def reportinfo(self): return self.path, 0, f'notebook {self.name}'


class NotebookFailed(Exception): pass


def _run_and_save(path, skip, force):
    "Run `path` like nbdev's `test_nb` and store every executed cell's outputs in the file."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.process import NBProcessor
    flags = set(skip) - set(force)
    os.environ['IN_TEST'] = '1'
    raw = read_nb(path)
    nb = NBProcessor(path, process=True).nb
    assert len(raw.cells) == len(nb.cells), 'cell count changed while processing'
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        d = getattr(cell, 'directives_', {}) or {}
        if d.get('eval:', [''])[0].lower() == 'false': return True
        return bool(flags & d.keys())
    shell = CaptureShell(path, mpl_format='png')   # stored outputs at 1x: the site shows them at their size
    with working_directory(path.parent):
        shell.run_all(nb, exc_stop=True, preproc=no_eval)
    for r, c in zip(raw.cells, nb.cells):
        if r.cell_type == 'code' and not no_eval(c): r['outputs'] = c.get('outputs', [])
    write_nb(raw, path)
