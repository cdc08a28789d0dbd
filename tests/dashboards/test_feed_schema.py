"""The feed against its own OpenAPI document, by schemathesis, as a scoped user on both stores.

Schemathesis (its command line, as a CI job would run it) reads ``/ogcapi/api`` as the street's staff
sees it, and sends what the document allows and what it does not, by every method: every answer
must be documented (status, content type, body), none a 500, a wrong value refused, a request
without the login refused, an undeclared method answered 405 with ``Allow``.

One check is left out: ``positive_data_acceptance``. OpenAPI 3.0 cannot say the grammar of the
standard's ``datetime`` (RFC 3339 instants and intervals) or that a bbox's lower corner comes first,
so a string the schema allows may rightly be refused with 400.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demo.users import demo_password
from layers.catalogue import CATALOGUE
from tests.conftest import demo_copy, serving


@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_the_feed_answers_as_its_api_document_says(kind, demo_gpkg, tmp_path, request):
    spec = demo_copy(kind, demo_gpkg, tmp_path, request)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with serving(spec) as url:
        run = subprocess.run([str(schemathesis), "run", f"{url}/ogcapi/api", "--auth", f"kongpu:{demo_password('kongpu')}",
                              "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                              "--max-examples", "10", "--generation-deterministic", "--workers", "2",
                              "--report", "junit", "--report-dir", str(tmp_path / "report")],
                             capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:]
    operations = 3 + 3 * len(CATALOGUE)  # landing, conformance, collections; each layer's collection, items, item
    assert f"Selected: {operations}/{operations}" in run.stdout


@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_the_push_api_answers_as_its_api_document_says(kind, demo_gpkg, tmp_path, request):
    """The same run against the push API with a channel system's key: its POSTs write into the copy.

    A value the schema allows may still be refused (a service_code not in services.json, a place outside
    the district), so ``positive_data_acceptance`` is left out here too.
    """
    from layers.apikeys import add_key
    from layers.store import open_store

    spec = demo_copy(kind, demo_gpkg, tmp_path, request)
    with open_store(spec) as store:
        _, key = add_key(store, "e_ningbo", created_by="test")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with serving(spec) as url:
        run = subprocess.run([str(schemathesis), "run", f"{url}/open311/v2/openapi.json",
                              "--header", f"Authorization: Bearer {key}",
                              "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                              "--max-examples", "10", "--generation-deterministic", "--workers", "2",
                              "--report", "junit", "--report-dir", str(tmp_path / "report")],
                             capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Selected: 6/6" in run.stdout
