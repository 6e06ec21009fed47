"""Classic nbdev setup.py: everything is read from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here/'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

for o in 'version description keywords author author_email copyright user min_python lib_name git_url'.split():
    assert o in cfg, f'settings.ini is missing the field {o!r}'

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
lic = licenses[cfg.get('license', 'apache2')]
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()
min_python = cfg['min_python']

requirements = cfg.get('requirements', '').split()
extras = {
    'triton': cfg.get('triton_requirements', '').split(),
    'hub': cfg.get('hub_requirements', '').split(),
    'dev': cfg.get('dev_requirements', '').split(),
}
readme = here/'README.md'  # tolerate a missing README at build time
long_description = readme.read_text(encoding='utf-8') if readme.exists() else cfg['description']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'License :: ' + lic[1],
                 'Natural Language :: ' + cfg['language'].title(),
                 'Topic :: Scientific/Engineering :: Artificial Intelligence'] +
                ['Programming Language :: Python :: ' + v for v in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['videomla', 'videomla.*']),
    include_package_data=True,
    package_data={'videomla': ['checkpoints/*.safetensors', 'checkpoints/*.json', 'checkpoints/*.md']},  # trained tiny models
    install_requires=requirements,
    extras_require=extras,
    python_requires='>=' + min_python,
    long_description=long_description,
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    author=cfg['author'], author_email=cfg['author_email'], description=cfg['description'],
    keywords=cfg['keywords'],
)
