"""Convex solids (boxes, frusta) seen by the camera: visible faces and points on faces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material

# Vertex order: bottom 0..3 then top 4..7, each (x0,z0) (x1,z0) (x1,z1) (x0,z1) in local axes.
# Each face is (a, b, c, d) with u running a->b and v running a->d.
FACES = {
    "near": (0, 1, 5, 4),  # local z0 side (faces the camera for objects ahead)
    "far": (3, 2, 6, 7),
    "left": (0, 3, 7, 4),  # local x0 side; u runs near -> far
    "right": (1, 2, 6, 5),
    "top": (4, 5, 6, 7),
}


@dataclass(frozen=True)
class Face:
    name: str
    quad: np.ndarray  # (4, 3) world
    normal: np.ndarray  # outward unit normal

    def point(self, u: float, v: float) -> np.ndarray:
        a, b, c, d = self.quad
        return (1 - u) * (1 - v) * a + u * (1 - v) * b + u * v * c + (1 - u) * v * d

    def sub_quad(self, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
        """(4, 3) corners of the face region [u0, u1] x [v0, v1] (bilinear in the face)."""
        weights = [
            [(1 - u) * (1 - v), u * (1 - v), u * v, (1 - u) * v]
            for u, v in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))
        ]
        return np.array(weights) @ self.quad


def box_vertices(
    x: float,
    z: float,
    width: float,
    length: float,
    y0: float,
    y1: float,
    yaw: float = 0.0,
    top_inset: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
) -> np.ndarray:
    """(8, 3) vertices of a box (or a frustum with the top inset left, right, near, far).

    ``(x, z)`` is the footprint centre; ``yaw`` turns the box about the vertical axis
    (positive = the far end turns to the right).
    """
    hw, hl = width / 2.0, length / 2.0
    il, ir, inear, ifar = top_inset
    bottom = np.array([[-hw, -hl], [hw, -hl], [hw, hl], [-hw, hl]])
    top = np.array([[-hw + il, -hl + inear], [hw - ir, -hl + inear], [hw - ir, hl - ifar], [-hw + il, hl - ifar]])
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, s], [-s, c]])  # local (x, z) -> world (x, z)
    out = np.empty((8, 3))
    for i, (pts, y) in enumerate(((bottom, y0), (top, y1))):
        world = pts @ rot.T + np.array([x, z])
        out[4 * i : 4 * i + 4, 0] = world[:, 0]
        out[4 * i : 4 * i + 4, 1] = y
        out[4 * i : 4 * i + 4, 2] = world[:, 1]
    return out


_FACE_ITEMS = tuple((name, list(idx)) for name, idx in FACES.items())


def visible_faces(ctx: SceneContext, vertices: np.ndarray) -> dict[str, Face]:
    """Faces whose outward normal points towards the camera (plain floats: faster than numpy
    for five quads)."""
    v = vertices.tolist()
    mx = sum(p[0] for p in v) / 8.0
    my = sum(p[1] for p in v) / 8.0
    mz = sum(p[2] for p in v) / 8.0
    eye_y = ctx.camera.height_m
    faces = {}
    for name, idx in _FACE_ITEMS:
        a, b, _, d = (v[i] for i in idx)
        ux, uy, uz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
        wx, wy, wz = d[0] - a[0], d[1] - a[1], d[2] - a[2]
        nx, ny, nz = uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx
        norm = (nx * nx + ny * ny + nz * nz) ** 0.5
        if norm < 1e-9:
            continue
        c = [sum(v[i][k] for i in idx) / 4.0 for k in range(3)]
        if nx * (c[0] - mx) + ny * (c[1] - my) + nz * (c[2] - mz) < 0:
            nx, ny, nz = -nx, -ny, -nz
        if nx * (0.0 - c[0]) + ny * (eye_y - c[1]) + nz * (0.0 - c[2]) > 1e-6 * norm:
            faces[name] = Face(name, vertices[idx], np.array([nx / norm, ny / norm, nz / norm]))
    return faces


def draw_solid(
    ctx: SceneContext,
    vertices: np.ndarray,
    colour,
    label: int,
    material: Material = Material.SMOOTH,
    face_colours: dict | None = None,
) -> dict[str, Face]:
    """Draw the visible faces of a convex solid, each shaded by the lighting; returns them."""
    faces = visible_faces(ctx, vertices)
    z = float(vertices[:, 2].min())
    for face in faces.values():
        col = (face_colours or {}).get(face.name, colour)
        ctx.fill(face.quad, col, label, material, ctx.lighting.face_shade(face.normal), haze_z=z)
    return faces


def draw_on_face(
    ctx: SceneContext, face: Face, u0, u1, v0, v1, colour, label: int, material: Material, shade_scale: float = 1.0,
):
    quad = face.sub_quad(u0, u1, v0, v1)
    ctx.fill(quad, colour, label, material, ctx.lighting.face_shade(face.normal) * shade_scale)


def disc_on_plane(centre: np.ndarray, axis_u: np.ndarray, axis_v: np.ndarray, radius: float, n: int = 12) -> np.ndarray:
    """(n, 3) world points of a circle spanned by two unit axes."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return centre + radius * (np.cos(t)[:, None] * axis_u + np.sin(t)[:, None] * axis_v)
