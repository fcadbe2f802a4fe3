"""Starts bqemulator offline: DuckDB's spatial extension would be downloaded at start-up, which
fails without internet, so loading it is turned off (attrsync uses no GEOGRAPHY).

usage: bqemulator_launch.py start --project P --rest-port N --grpc-port M
"""
import os
import sys

os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")

from bqemulator.storage.engine import DuckDBEngine  # noqa: E402

DuckDBEngine._load_spatial = lambda self, *args, **kwargs: None

from bqemulator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
