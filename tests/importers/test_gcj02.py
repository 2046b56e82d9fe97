"""GCJ-02 <-> WGS-84: the forward formula against a known point pair, and the iterative inverse."""

from __future__ import annotations

import numpy as np
from pyproj import Geod

from datasources.importers.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

# WGS-84 (104.0, 30.7) near Chengdu and its GCJ-02 position by the published forward formula.
WGS = (104.0, 30.7)
GCJ = (104.00230835286, 30.69743474698)


def test_forward_matches_the_known_pair_and_shifts_a_few_hundred_metres():
    lon, lat = wgs84_to_gcj02(*WGS)
    assert abs(lon - GCJ[0]) < 1e-9 and abs(lat - GCJ[1]) < 1e-9
    metres = Geod(ellps="WGS84").inv(*WGS, float(lon), float(lat))[2]
    assert 200 < metres < 700


def test_inverse_recovers_wgs84_within_a_millimetre():
    lon, lat = gcj02_to_wgs84(*GCJ)
    assert Geod(ellps="WGS84").inv(*WGS, float(lon), float(lat))[2] < 1e-3
    grid_lon, grid_lat = np.meshgrid(np.linspace(97, 123, 7), np.linspace(20, 45, 7))
    back = gcj02_to_wgs84(*wgs84_to_gcj02(grid_lon.ravel(), grid_lat.ravel()))
    assert np.abs(back[0] - grid_lon.ravel()).max() < 1e-8 and np.abs(back[1] - grid_lat.ravel()).max() < 1e-8
