"""Packaging beyond what pyproject.toml can say: the migrations live in the repository's top-level
`alembic/` (where Alembic users look for them, with `alembic.ini` beside it) and are installed as the
package `app.migrations`, so an installed `aijobs migrate` finds the same one copy."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("backend"), "app.migrations", "app.migrations.versions"],
    package_dir={"": "backend", "app.migrations": "alembic", "app.migrations.versions": "alembic/versions"},
    package_data={"app.migrations": ["script.py.mako"]},
)
