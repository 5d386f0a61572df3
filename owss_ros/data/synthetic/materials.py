"""Surface materials: which procedural texture fields modulate a drawn surface, and how much.

The canvas stores a material id per pixel; :mod:`~owss_ros.data.synthetic.effects` turns the
ids into a brightness modulation ``1 + sum_k amplitude[material, k] * field_k``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Material(IntEnum):
    SMOOTH = 0  # painted metal, plastic
    ASPHALT = 1
    PAVING = 2
    GRASS = 3
    FOLIAGE = 4
    BRICK = 5
    PLASTER = 6
    CONCRETE = 7
    GLASS = 8
    FABRIC = 9
    SKIN = 10
    RUBBER = 11
    MARKING = 12
    SKY = 13
    WOOD = 14
    METAL = 15
    LAMP = 16  # emissive: no texture, no shadow


class TextureField(IntEnum):
    FINE = 0  # per-pixel noise
    SMALL = 1  # value noise, ~3 px cells
    MID = 2  # value noise, ~10 px cells
    COARSE = 3  # value noise, ~50 px cells (stains, patches)
    GROUND = 4  # perspective-correct noise on the road plane
    PAVING_GRID = 5  # joints between paving slabs (ground plane)
    BRICK = 6  # mortar lines and per-brick tone
    PLANKS = 7  # vertical board/plank stripes


GROUND_MATERIALS = (Material.ASPHALT, Material.PAVING, Material.GRASS, Material.MARKING)

_AMPLITUDES = {
    #                  FINE  SMALL  MID  COARSE GROUND GRID BRICK PLANKS
    Material.SMOOTH: (0.015, 0.00, 0.02, 0.05, 0.0, 0.0, 0.0, 0.0),
    Material.ASPHALT: (0.03, 0.03, 0.03, 0.10, 0.08, 0.0, 0.0, 0.0),
    Material.PAVING: (0.04, 0.03, 0.03, 0.07, 0.06, 0.22, 0.0, 0.0),
    Material.GRASS: (0.04, 0.09, 0.10, 0.12, 0.12, 0.0, 0.0, 0.0),
    Material.FOLIAGE: (0.05, 0.22, 0.18, 0.08, 0.0, 0.0, 0.0, 0.0),
    Material.BRICK: (0.04, 0.03, 0.03, 0.06, 0.0, 0.0, 0.18, 0.0),
    Material.PLASTER: (0.02, 0.02, 0.03, 0.10, 0.0, 0.0, 0.0, 0.0),
    Material.CONCRETE: (0.03, 0.04, 0.05, 0.12, 0.0, 0.0, 0.0, 0.0),
    Material.GLASS: (0.01, 0.00, 0.05, 0.25, 0.0, 0.0, 0.0, 0.0),
    Material.FABRIC: (0.04, 0.05, 0.06, 0.03, 0.0, 0.0, 0.0, 0.0),
    Material.SKIN: (0.02, 0.02, 0.03, 0.02, 0.0, 0.0, 0.0, 0.0),
    Material.RUBBER: (0.03, 0.02, 0.02, 0.03, 0.0, 0.0, 0.0, 0.0),
    Material.MARKING: (0.04, 0.06, 0.10, 0.15, 0.05, 0.0, 0.0, 0.0),
    Material.SKY: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    Material.WOOD: (0.04, 0.04, 0.06, 0.06, 0.0, 0.0, 0.0, 0.15),
    Material.METAL: (0.015, 0.01, 0.03, 0.08, 0.0, 0.0, 0.0, 0.06),
    Material.LAMP: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
}


def amplitude_table() -> np.ndarray:
    """(256, n_fields) float32 table indexed by material id."""
    table = np.zeros((256, len(TextureField)), dtype=np.float32)
    for material, amps in _AMPLITUDES.items():
        table[int(material)] = amps
    return table


AMPLITUDES = amplitude_table()
