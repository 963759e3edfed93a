"""adlfs's ``abfs[s]://container@account.dfs.core.windows.net/path`` store URLs.

sessionstore takes one URL form, ``<scheme>://container/prefix?account_name=...``:
the adlfs form is refused with that same store written out, and what it writes
opens the store it names.
"""

from __future__ import annotations

import pytest

from sessionstore import ConfigurationError, SessionStore
from sessionstore_azure.backend import AzureBackend


@pytest.mark.parametrize(
    ("url", "written", "account_name", "endpoint_url"),
    [
        pytest.param(
            "abfs://container@myaccount.dfs.core.windows.net/apps",
            "abfs://container/apps?account_name=myaccount",
            "myaccount",
            None,
            id="adlfs",
        ),
        pytest.param(
            "abfss://container@myaccount.dfs.core.windows.net/apps/one/",
            "abfss://container/apps/one?account_name=myaccount",
            "myaccount",
            None,
            id="abfss",
        ),
        pytest.param(
            "az://container@myaccount.blob.core.windows.net",
            "az://container?account_name=myaccount",
            "myaccount",
            None,
            id="blob-host",
        ),
        pytest.param(
            "abfs://container@myaccount.dfs.core.chinacloudapi.cn/apps",
            "abfs://container/apps?endpoint_url=https://myaccount.blob.core.chinacloudapi.cn",
            None,
            "https://myaccount.blob.core.chinacloudapi.cn",
            id="other-cloud",
        ),
        pytest.param(
            "abfss://container@myaccount.privatelink.dfs.core.windows.net/apps",
            "abfss://container/apps?endpoint_url=https://myaccount.privatelink.blob.core.windows.net",
            None,
            "https://myaccount.privatelink.blob.core.windows.net",
            id="private-endpoint",
        ),
    ],
)
def test_the_container_at_account_form_is_refused_with_the_store_written_out(
    url: str, written: str, account_name: str | None, endpoint_url: str | None
) -> None:
    """It was read as the bucket ``container@myaccount...``, and the message said
    only that the host part is the bucket alone (and, for every form, gave the
    public cloud's rewrite with placeholder names). The URL it now writes out is
    the same store: container, prefix and account, on the Blob endpoint."""
    with pytest.raises(ConfigurationError) as caught:
        SessionStore.from_url(url)
    assert f"write {written} (" in str(caught.value)
    store = SessionStore.from_url(written)
    plugin = store._storage.plugin
    assert isinstance(plugin, AzureBackend)
    assert store.backend == "azure"
    assert store.bucket == "container"
    assert (plugin.account_name, plugin.endpoint_url) == (account_name, endpoint_url)
    assert plugin.prefix == written.partition("?")[0].partition("container")[2].strip("/")


def test_options_of_a_refused_url_are_masked_and_kept() -> None:
    """A key in the query is masked in the quoted URL; the message says to keep it."""
    with pytest.raises(ConfigurationError) as caught:
        SessionStore.from_url(
            "abfss://container@myaccount.dfs.core.windows.net/apps?account_key=TOP-SECRET"
        )
    message = str(caught.value)
    assert "TOP-SECRET" not in message
    assert "write abfss://container/apps?account_name=myaccount&<your other options>" in message
