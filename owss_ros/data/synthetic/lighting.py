"""Global illumination and atmosphere: sun, ambient light, haze, sky colours, camera response."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic import palette


@dataclass(frozen=True)
class Lighting:
    sun: np.ndarray  # unit vector toward the sun (world frame)
    ambient: float
    direct: float  # 0 = overcast
    shadow_strength: float
    shadow_step: tuple[float, float]  # ground displacement (dx, dz) of a shadow per metre of height
    sky_top: tuple[int, int, int]
    sky_horizon: tuple[int, int, int]
    cloud_cover: float  # 0..1
    cloud_colour: tuple[int, int, int]
    haze_colour: tuple[int, int, int]
    haze_distance: float  # metres at which ~63% of a colour is replaced by haze
    exposure: float
    white_balance: tuple[float, float, float]
    contrast: float
    saturation: float
    gamma: float
    blur_radius: float
    noise_sigma: float

    def face_shade(self, normal) -> float:
        """Brightness factor of a surface with the given outward unit normal."""
        nx, ny, nz = (float(v) for v in normal)
        sx, sy, sz = self._sun
        lambert = max(0.0, nx * sx + ny * sy + nz * sz)
        sky = 0.5 * (1.0 + ny)
        return self.ambient * (0.75 + 0.35 * sky) + self.direct * lambert

    @property
    def _sun(self) -> tuple[float, float, float]:
        return float(self.sun[0]), float(self.sun[1]), float(self.sun[2])

    @property
    def ground_shade(self) -> float:
        return self.face_shade(np.array([0.0, 1.0, 0.0]))

    def haze(self, rgb, z: float) -> tuple[int, int, int]:
        t = 1.0 - math.exp(-max(z, 0.0) / self.haze_distance)
        return palette.mix(rgb, self.haze_colour, t)

    def response(self, rgb) -> tuple[int, int, int]:
        """Camera colour response (white balance, exposure, saturation) of an albedo colour.

        It is linear, so applying it per primitive instead of per pixel gives the same image
        (up to 8-bit clipping) at a fraction of the cost; contrast and gamma are applied
        per pixel with a lookup table (:func:`tone_curve`)."""
        wr, wg, wb = self.white_balance
        e = self.exposure
        r, g, b = rgb[0] * wr * e, rgb[1] * wg * e, rgb[2] * wb * e
        grey = (r + g + b) / 3.0
        s = self.saturation
        return palette.clip_rgb((grey + s * (r - grey), grey + s * (g - grey), grey + s * (b - grey)))

    def apparent(self, rgb, z: float) -> tuple[int, int, int]:
        """Colour as recorded by the camera: hazed by distance, then the colour response
        (the same as ``response(haze(rgb, z))`` without the intermediate rounding)."""
        t = 1.0 - math.exp(-max(z, 0.0) / self.haze_distance)
        hr, hg, hb = self.haze_colour
        wr, wg, wb = self.white_balance
        e = self.exposure
        r = (rgb[0] + (hr - rgb[0]) * t) * wr * e
        g = (rgb[1] + (hg - rgb[1]) * t) * wg * e
        b = (rgb[2] + (hb - rgb[2]) * t) * wb * e
        grey = (r + g + b) / 3.0
        s = self.saturation
        return palette.clip_rgb((grey + s * (r - grey), grey + s * (g - grey), grey + s * (b - grey)))

    def tone_curve(self) -> np.ndarray:
        """256-entry uint8 table: contrast about mid-grey, then gamma."""
        x = np.arange(256, dtype=np.float64)
        y = np.clip(((x - 128.0) * self.contrast + 128.0) / 255.0, 0.0, 1.0) ** self.gamma
        return np.round(255.0 * y).astype(np.uint8)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    weather = rng.choice(["sunny", "cloudy", "overcast", "evening"], p=[0.4, 0.3, 0.2, 0.1])
    elevation = np.radians(rng.uniform(15, 65) if weather != "evening" else rng.uniform(5, 15))
    azimuth = rng.uniform(-np.pi, np.pi)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)])
    shadow_len = min(3.0, 1.0 / np.tan(elevation))
    shadow_step = (float(-sun[0] / np.cos(elevation) * shadow_len), float(-sun[2] / np.cos(elevation) * shadow_len))
    if weather == "sunny":
        sky_top = palette.jitter(rng, (70, 120, 200), 12)
        sky_horizon = palette.jitter(rng, (175, 200, 230), 10)
        direct, ambient = rng.uniform(0.35, 0.55), rng.uniform(0.6, 0.75)
        shadow, clouds = rng.uniform(0.35, 0.55), rng.uniform(0.0, 0.35)
    elif weather == "cloudy":
        sky_top = palette.jitter(rng, (110, 140, 185), 12)
        sky_horizon = palette.jitter(rng, (195, 205, 220), 8)
        direct, ambient = rng.uniform(0.15, 0.35), rng.uniform(0.7, 0.85)
        shadow, clouds = rng.uniform(0.15, 0.35), rng.uniform(0.35, 0.75)
    elif weather == "overcast":
        g = rng.uniform(170, 225)
        sky_top = palette.grey(rng, g - 25, g - 5, 4)
        sky_horizon = palette.grey(rng, g, g + 15, 3)
        direct, ambient, shadow, clouds = 0.0, rng.uniform(0.8, 0.95), rng.uniform(0.0, 0.08), rng.uniform(0.2, 0.6)
    else:
        sky_top = palette.jitter(rng, (80, 95, 150), 12)
        sky_horizon = palette.jitter(rng, (235, 170, 110), 15)
        direct, ambient = rng.uniform(0.25, 0.45), rng.uniform(0.5, 0.65)
        shadow, clouds = rng.uniform(0.3, 0.5), rng.uniform(0.1, 0.5)
    haze = palette.mix(sky_horizon, (200, 200, 200), 0.3)
    warm = 1.0 + (0.06 if weather == "evening" else 0.0)
    return Lighting(
        sun=sun,
        ambient=float(ambient),
        direct=float(direct),
        shadow_strength=float(shadow),
        shadow_step=shadow_step,
        sky_top=sky_top,
        sky_horizon=sky_horizon,
        cloud_cover=float(clouds),
        cloud_colour=palette.grey(rng, 200, 245, 4) if weather != "overcast" else palette.grey(rng, 150, 200, 3),
        haze_colour=haze,
        haze_distance=float(rng.uniform(250, 900) if weather != "overcast" else rng.uniform(150, 400)),
        exposure=float(rng.uniform(0.8, 1.2)),
        white_balance=(
            float(warm * rng.uniform(0.93, 1.07)), float(rng.uniform(0.96, 1.04)),
            float(rng.uniform(0.92, 1.08) / warm),
        ),
        contrast=float(rng.uniform(0.85, 1.15)),
        saturation=float(rng.uniform(0.7, 1.2)),
        gamma=float(rng.uniform(0.85, 1.15)),
        blur_radius=float(rng.uniform(0.3, 1.0)),
        noise_sigma=float(rng.uniform(1.0, 5.0)),
    )
