"""Fixtures shared by the plugins' tests: the real storage servers of tests/storage_servers.py."""

from tests.storage_servers import (  # noqa: F401
    azurite,
    azurite_factory,
    moto,
    moto_factory,
    postgres,
)
