"""Plain tests of the package as an installed library (the notebooks test the math)."""
import importlib, pkgutil, subprocess, sys
import videomla


def test_public_modules_import():
    mods = [m.name for m in pkgutil.iter_modules(videomla.__path__) if not m.name.startswith('_')]
    assert 'config' in mods and 'cli' in mods
    for m in mods: importlib.import_module(f'videomla.{m}')


def test_import_is_light():
    "`import videomla` must not pull in triton, matplotlib or nbdev (Colab users and CPU-only installs)."
    code = 'import sys, videomla; print(",".join(m for m in ("triton", "matplotlib", "nbdev") if m in sys.modules))'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == '', f'import videomla imported {out}'


def test_console_command():
    r = subprocess.run([sys.executable, '-m', 'videomla.cli', 'memory', '--preset', 'tiny'], capture_output=True, text=True)
    assert r.returncode == 0 and 'VideoMLA' in r.stdout, r.stderr
