"""The ``azure`` backend for sessionstore: sessions as block blobs in an Azure
Blob Storage container (the store's bucket).

Select it with the backend name ``azure`` (URL schemes ``azure://``, ``az://``,
``abfs://``; entry point ``sessionstore.backends``).
"""

from __future__ import annotations

from sessionstore_azure.backend import AzureBackend

__all__ = ["AzureBackend"]
