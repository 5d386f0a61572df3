"""Joint image / label augmentation for training, and the matching evaluation transform.

Every random draw comes from a ``numpy.random.Generator`` handed in per sample, seeded from
(seed, epoch, index), so a run is reproducible and a resumed run sees the same crops.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageFilter

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.model import IMAGENET_MEAN, IMAGENET_STD
from owss_ros.training.outlier_exposure import paste_outliers

_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32) * 255.0
_STD = np.array(IMAGENET_STD, dtype=np.float32) * 255.0


def to_tensors(image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 HxWx3 RGB + HxW ids -> normalised (3, H, W) float32 and (H, W) int64."""
    x = (image.astype(np.float32) - _MEAN) / _STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), torch.from_numpy(label.astype(np.int64))


def resize_pair(image: np.ndarray, label: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = size_hw
    image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
    label = np.asarray(Image.fromarray(label.astype(np.uint8)).resize((w, h), Image.NEAREST)).astype(np.int64)
    return image, label


# RGB <-> YIQ: a hue change is a rotation of the (I, Q) chroma plane
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def hue_rotation_matrix(turns: float) -> np.ndarray:
    """3x3 matrix acting on RGB rows that rotates the hue by ``turns`` of the colour wheel."""
    c, s = np.cos(2 * np.pi * turns), np.sin(2 * np.pi * turns)
    rotate = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], np.float32)
    return (_YIQ_TO_RGB @ rotate @ _RGB_TO_YIQ).T


class TrainTransform:
    """Random scale, random crop (padded with ignore), horizontal flip, photometric jitter
    (brightness / contrast / saturation, optional hue, gamma, blur and sensor noise).

    The photometric terms are there so a model trained on one renderer's colours and
    sharpness does not depend on them: held-out scenes come from other generators/cameras.
    """

    def __init__(self, crop_hw, scale_range=(0.75, 1.5), hflip=True, color_jitter=0.2,
                 hue=0.0, gamma=0.0, blur=0.0, noise=0.0, outliers=None, class_centred_crop=0.0):
        self.crop_h, self.crop_w = int(crop_hw[0]), int(crop_hw[1])
        self.class_centred_crop = float(class_centred_crop)
        self.scale_range = tuple(scale_range)
        self.hflip = hflip
        self.color_jitter = float(color_jitter)
        self.hue, self.gamma, self.blur, self.noise = float(hue), float(gamma), float(blur), float(noise)
        self.outliers = outliers  # an OutlierConfig: pasted before the photometric terms, so they share them

    def __call__(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator):
        scale = rng.uniform(*self.scale_range)
        h, w = label.shape
        image, label = resize_pair(image, label, (max(1, round(h * scale)), max(1, round(w * scale))))
        image, label = self._crop(image, label, rng)
        if self.hflip and rng.random() < 0.5:
            image, label = image[:, ::-1], label[:, ::-1]
        if self.outliers is not None:
            image, label = paste_outliers(np.ascontiguousarray(image), np.ascontiguousarray(label), rng,
                                          self.outliers)
        if self.color_jitter > 0:
            image = self._jitter(image, rng)
        image = self._camera_effects(image, rng)
        return to_tensors(image, label)

    def _camera_effects(self, image, rng):
        if self.blur > 0 and rng.random() < self.blur:
            image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).filter(
                ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 1.5)))))
        if not (self.hue or self.gamma or self.noise):
            return image
        x = image.astype(np.float32)
        if self.hue > 0:
            x = x @ hue_rotation_matrix(rng.uniform(-self.hue, self.hue))
        if self.gamma > 0:
            x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** np.exp(rng.uniform(-self.gamma, self.gamma))
        if self.noise > 0:
            x = x + rng.normal(0.0, rng.uniform(0, self.noise), size=x.shape).astype(np.float32)
        return np.clip(x, 0, 255).astype(np.uint8)

    def _crop(self, image, label, rng):
        h, w = label.shape
        pad_h, pad_w = max(0, self.crop_h - h), max(0, self.crop_w - w)
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
            label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_INDEX)
            h, w = label.shape
        top, left = self._crop_corner(label, rng)
        return (image[top:top + self.crop_h, left:left + self.crop_w],
                label[top:top + self.crop_h, left:left + self.crop_w])

    def _crop_corner(self, label, rng):
        """Top-left corner of the crop: uniform, or (with probability ``class_centred_crop``) a
        placement holding a random pixel of a class drawn uniformly from those in the image.

        Class-uniform sampling (as in Zhu et al., CVPR 2019, for Cityscapes): a bicycle of 0.03% of
        the pixels is then in a crop as often as any class the image holds, with no loss weighting
        (which this trainer also has, and which cost the frequent classes here)."""
        h, w = label.shape
        if self.class_centred_crop > 0 and rng.random() < self.class_centred_crop:
            present = np.unique(label)
            present = present[present != IGNORE_INDEX]
            if present.size:
                rows, cols = np.nonzero(label == rng.choice(present))
                pick = int(rng.integers(0, rows.size))
                row, col = int(rows[pick]), int(cols[pick])
                top = int(rng.integers(max(0, row - self.crop_h + 1), min(row, h - self.crop_h) + 1))
                left = int(rng.integers(max(0, col - self.crop_w + 1), min(col, w - self.crop_w) + 1))
                return top, left
        return int(rng.integers(0, h - self.crop_h + 1)), int(rng.integers(0, w - self.crop_w + 1))

    def _jitter(self, image, rng):
        a = self.color_jitter
        x = image.astype(np.float32)
        x = x * rng.uniform(1 - a, 1 + a)  # brightness
        mean = x.mean()
        x = (x - mean) * rng.uniform(1 - a, 1 + a) + mean  # contrast
        grey = x.mean(axis=2, keepdims=True)
        x = (x - grey) * rng.uniform(1 - a, 1 + a) + grey  # saturation
        return np.clip(x, 0, 255).astype(np.uint8)


class EvalTransform:
    """Optional resize to a fixed size (labels nearest), then tensors."""

    def __init__(self, size_hw: tuple[int, int] | None = None):
        self.size_hw = size_hw

    def __call__(self, image, label, rng=None):
        if self.size_hw is not None and tuple(label.shape) != tuple(self.size_hw):
            image, label = resize_pair(image, label, self.size_hw)
        return to_tensors(image, label)
