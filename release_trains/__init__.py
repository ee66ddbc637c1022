"""release-trains: plan, execute, roll back and report coordinated multi-service releases.

The library does the work; `release_trains.cli` only translates between a terminal and it.
"""

__version__ = "0.1.0"
