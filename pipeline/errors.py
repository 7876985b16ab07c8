"""The exceptions newspipe raises, and the one value it returns instead of raising.

    NewspipeError            anything newspipe raises on purpose
     ├── ConfigError         the config file is missing, unreadable or invalid
     ├── StoreError          the DuckDB file cannot be opened, migrated or loaded
     ├── StagingError        a staged batch is missing or unreadable
     ├── TooManyFailures     a run's fetch error rate passed its bound (after loading)
     ├── QualityFailed       a critical expectation failed
     └── AirflowError        a local Airflow (airflow_local) failed to start, parse or run

Problems with a single feed or page are not exceptions: stages return a
`records.Failure` value and the loader writes it to `fetch_log`, so one bad
item never stops a shard.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "NewspipeError",
    "QualityFailed",
    "StagingError",
    "StoreError",
    "TooManyFailures",
]


class NewspipeError(Exception):
    """Base class of every error newspipe raises on purpose."""


class ConfigError(NewspipeError):
    """The config file is missing, unreadable or does not validate."""


class StoreError(NewspipeError):
    """The DuckDB file cannot be opened, migrated or written."""


class StagingError(NewspipeError):
    """A staged batch is missing, incomplete or unreadable."""


class QualityFailed(NewspipeError):
    """At least one critical expectation failed; the message lists them."""


class TooManyFailures(NewspipeError):
    """More of a run's feeds and pages failed than the config allows; what succeeded is loaded."""
