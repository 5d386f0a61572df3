import numpy as np

from owss_ros.core.losses import OUTLIER_TARGET
from owss_ros.training.outlier_exposure import OutlierConfig, paste_outliers


def _scene():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (96, 192, 3), dtype=np.uint8), rng.integers(0, 19, (96, 192)).astype(np.int64)


def test_pasted_objects_are_labelled_and_only_they_change():
    image, label = _scene()
    out_image, out_label = paste_outliers(image, label, np.random.default_rng(3), OutlierConfig(1.0, 3, 0.2, 0.4))
    pasted = out_label == OUTLIER_TARGET
    assert 0.005 < pasted.mean() < 0.6
    assert np.array_equal(out_label[~pasted], label[~pasted])
    assert np.array_equal(out_image[~pasted], image[~pasted])
    assert not np.array_equal(out_image[pasted], image[pasted])
    assert np.array_equal(label, _scene()[1])  # inputs are not modified in place


def test_pasting_is_deterministic_per_seed_and_respects_the_probability():
    image, label = _scene()
    a = paste_outliers(image, label, np.random.default_rng(7), OutlierConfig(1.0))
    b = paste_outliers(image, label, np.random.default_rng(7), OutlierConfig(1.0))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    never = paste_outliers(image, label, np.random.default_rng(7), OutlierConfig(0.0))
    assert never[1] is label
    rate = np.mean([(paste_outliers(image, label, np.random.default_rng(s), OutlierConfig(0.5))[1]
                     == OUTLIER_TARGET).any() for s in range(200)])
    assert 0.35 < rate < 0.65


def test_trainer_with_outlier_exposure_trains_dml_and_ce(tiny_cityscapes, tmp_path):
    import pytest

    from owss_ros.training.config import load_train_config
    from owss_ros.training.trainer import Trainer

    from .conftest import tiny_overrides

    for kind in ("dml", "ce"):
        overrides = tiny_overrides(tiny_cityscapes, tmp_path / kind, 2) + [
            f"model.kind={kind}", "augment.outlier_probability=1.0", "schedule.lambda_oe=0.5"]
        trainer = Trainer(load_train_config(None, overrides))
        image, label = trainer.train_set[0]
        assert (label == OUTLIER_TARGET).any()
        summary = trainer.fit()
        assert summary["iterations"] == 2
        losses = [h["loss"] for h in trainer.history if "loss" in h]
        assert all(np.isfinite(losses)) and losses[0] > 0, kind
    with pytest.raises(ValueError, match="lambda_vl and lambda_oe"):
        Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "bad") + ["schedule.lambda_oe=-1"]))


def test_solid_objects_are_labelled_shaded_and_cast_an_unlabelled_shadow():
    from owss_ros.training.outlier_exposure import solid_faces

    image = np.full((96, 192, 3), 128, np.uint8)
    label = np.full((96, 192), 7, np.int64)  # all road
    config = OutlierConfig(1.0, 1, 0.3, 0.4, solid_fraction=1.0)
    out_image, out_label = paste_outliers(image, label, np.random.default_rng(5), config)
    pasted = out_label == OUTLIER_TARGET
    assert 0.005 < pasted.mean() < 0.6
    assert np.array_equal(out_label[~pasted], label[~pasted])
    darkened = ~pasted & (out_image < 128).all(axis=-1)
    assert darkened.any()  # the shadow falls on the ground and keeps the ground's label
    assert (out_label[darkened] == 7).all()
    faces = solid_faces(np.random.default_rng(5), 96, 192, 40.0)
    shades = [shade for _, shade in faces]
    assert len(faces) >= 6 and faces[-1][0].any()  # 5-12 sides, then the top
    assert shades[-1] >= 0.9 and min(shades[:-1]) >= 0.45 and max(shades[:-1]) <= 0.8 + 1e-9
    rows = [np.nonzero(mask)[0].mean() for mask, _ in faces if mask.any()]
    assert rows[-1] < max(rows[:-1])  # the top face lies above the front sides


def test_solid_fraction_zero_keeps_the_flat_shapes_draws():
    image, label = _scene()
    flat = paste_outliers(image, label, np.random.default_rng(11), OutlierConfig(1.0, 2))
    same = paste_outliers(image, label, np.random.default_rng(11), OutlierConfig(1.0, 2, solid_fraction=0.0))
    assert np.array_equal(flat[0], same[0]) and np.array_equal(flat[1], same[1])
    mixed = [paste_outliers(image, label, np.random.default_rng(s), OutlierConfig(1.0, 2, solid_fraction=1.0))
             for s in range(3)]
    assert all((m[1] == OUTLIER_TARGET).any() for m in mixed)
