"""The ``gcs`` backend for sessionstore: sessions as objects in Google Cloud Storage.

Select it with the backend name ``gcs`` or a ``gs://bucket/prefix`` URL (entry
point ``sessionstore.backends``). It uses gcsfs for credentials and its HTTP
session, and imports gcsfs only when a store first talks to the bucket.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sessionstore_gcs.api import BucketNotFoundError
from sessionstore_gcs.backend import GCSBackend

__all__ = ["BucketNotFoundError", "GCSBackend"]
