import numpy as np
import pytest

from gis import datums

# Published vectors. gcoord test/fixtures/china-cities.json (Ningbo): WGS→GCJ good
# to ~1e-5°, GCJ→BD to 1e-7°. hutool CoordinateUtilTest.java (Beijing).
NINGBO_WGS = (121.6175008, 29.8621392)
NINGBO_GCJ = (121.6216018, 29.859518)
NINGBO_BD = (121.628174, 29.8651502)
BEIJING_WGS = (116.404, 39.915)
BEIJING_GCJ = (116.41024449916938, 39.91640428150164)
BEIJING_BD = (116.41662724378733, 39.922699552216216)


def test_wgs84_to_gcj02_matches_gcoord_and_hutool():
    assert np.allclose(datums.wgs84_to_gcj02(*NINGBO_WGS), NINGBO_GCJ, atol=1e-5)
    assert np.allclose(datums.wgs84_to_gcj02(*BEIJING_WGS), BEIJING_GCJ, atol=1e-9)


def test_gcj02_to_bd09_matches_gcoord_and_hutool():
    assert np.allclose(datums.gcj02_to_bd09(*NINGBO_GCJ), NINGBO_BD, atol=1e-7)
    assert np.allclose(datums.wgs84_to_bd09(*BEIJING_WGS), BEIJING_BD, atol=1e-9)


def _metres(lon1, lat1, lon2, lat2):
    return np.hypot((lon1 - lon2) * 111320 * np.cos(np.radians(lat1)), (lat1 - lat2) * 110574)


@pytest.mark.parametrize("forward,inverse", [
    (datums.wgs84_to_gcj02, datums.gcj02_to_wgs84),
    (datums.wgs84_to_bd09, datums.bd09_to_wgs84),
])
def test_round_trip_is_exact_to_a_centimetre(forward, inverse):
    rng = np.random.default_rng(1)
    lon = rng.uniform(121.35, 121.65, 1000)
    lat = rng.uniform(29.85, 30.06, 1000)
    back = inverse(*forward(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01


def test_points_outside_china_are_not_shifted():
    lon, lat = datums.wgs84_to_gcj02(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


def test_gauss_kruger_zones_match_the_design_vectors():
    # At 29.87 N 121.55 E: EPSG:4549 E 649757.548 N 3306711.728; EPSG:4550 E 359905.313 N 3306585.710.
    assert np.allclose(datums.from_cgcs2000(121.55, 29.87, "EPSG:4549"), (649757.548, 3306711.728), atol=1e-3)
    assert np.allclose(datums.from_cgcs2000(121.55, 29.87, "EPSG:4550"), (359905.313, 3306585.710), atol=1e-3)
    assert np.allclose(datums.to_cgcs2000(40649757.548, 3306711.728, "EPSG:4528"), (121.55, 29.87), atol=1e-8)


def test_unknown_datum_names_the_choices():
    with pytest.raises(datums.DatumError, match="unknown datum 'mars'.*gcj02"):
        datums.to_cgcs2000(1, 2, "mars")
