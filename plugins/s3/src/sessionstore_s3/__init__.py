"""The ``s3`` backend for sessionstore: each object is an S3 object.

Works with AWS S3 and S3-compatible services (MinIO, Cloudflare R2, Ceph, ...)
through s3fs's client. Select it with the backend name ``s3`` (entry point
``sessionstore.backends``) or a URL such as ``s3://my-bucket/apps/sessions``.
"""

from __future__ import annotations

from sessionstore_s3.backend import S3Backend
from sessionstore_s3.errors import BucketNotFoundError

__all__ = ["BucketNotFoundError", "S3Backend"]
