"""Loaders on tiny fixtures written in each dataset's on-disk layout."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from owss_ros.core.classes import CITYSCAPES_CLASSES, IGNORE_INDEX, train_id_by_name
from owss_ros.data import AnomalyMaskDataset, BDD100KDataset, CityscapesDataset, StreetHazardsDataset
from owss_ros.data.datasets import MissingLabelError
from owss_ros.data.label_maps import ClassSelection

H, W = 6, 8


def write_rgb(path: Path, seed: int = 0, ext: str = ".png") -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(image).save(path, quality=100) if ext == ".jpg" else Image.fromarray(image).save(path)
    return image


def write_map(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint8), "L").save(path)


def cityscapes_label_ids() -> np.ndarray:
    """A labelIds map using every train class once, plus void labelIds 0, 1 and 4."""
    ids = [c.label_id for c in CITYSCAPES_CLASSES] + [0, 1, 4]
    flat = np.array(ids * (H * W // len(ids) + 1))[: H * W]
    return flat.reshape(H, W)


def expected_train_ids(label_ids: np.ndarray) -> np.ndarray:
    lut = {c.label_id: c.train_id for c in CITYSCAPES_CLASSES}
    return np.vectorize(lambda v: lut.get(int(v), IGNORE_INDEX))(label_ids)


def make_cityscapes(root: Path, split: str = "train") -> dict:
    images = {}
    for city, frame in (("aachen", 1), ("aachen", 2), ("bremen", 7)):
        stem = f"{city}_{frame:06d}_000019"
        images[f"{city}/{stem}"] = write_rgb(
            root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", seed=frame,
        )
        write_map(
            root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", np.roll(cityscapes_label_ids(), frame),
        )
    return images


# --- Cityscapes ---------------------------------------------------------------------------

def test_cityscapes_pairs_images_and_maps_label_ids(tmp_path):
    images = make_cityscapes(tmp_path)
    ds = CityscapesDataset(tmp_path, "train")
    assert len(ds) == 3
    names = [ds[i]["name"] for i in range(3)]
    assert names == sorted(images)
    sample = ds[names.index("aachen/aachen_000002_000019")]
    np.testing.assert_array_equal(sample["image"], images["aachen/aachen_000002_000019"])
    assert sample["image"].dtype == np.uint8 and sample["image"].shape == (H, W, 3)
    assert sample["label"].dtype == np.int64
    np.testing.assert_array_equal(sample["label"], expected_train_ids(np.roll(cityscapes_label_ids(), 2)))
    assert set(np.unique(sample["label"])) == set(range(19)) | {IGNORE_INDEX}
    assert sample["image_path"].endswith("aachen_000002_000019_leftImg8bit.png")


def test_cityscapes_excludes_classes_and_remaps_contiguously(tmp_path):
    make_cityscapes(tmp_path)
    novel = ("car", "truck", "bus")
    kept = CityscapesDataset(tmp_path, exclude_classes=novel)
    label = kept[0]["label"]
    raw = expected_train_ids(np.roll(cityscapes_label_ids(), 1))
    for name in novel:
        assert not (label == train_id_by_name(name)).any()
        assert (label[raw == train_id_by_name(name)] == IGNORE_INDEX).all()
    np.testing.assert_array_equal(label[raw == train_id_by_name("train")], train_id_by_name("train"))

    contiguous = CityscapesDataset(tmp_path, exclude_classes=novel, contiguous=True)
    mapping = contiguous.class_mapping
    assert len(mapping) == 16 and sorted(mapping.values()) == list(range(16))
    assert mapping[train_id_by_name("sky")] == 10
    assert mapping[train_id_by_name("person")] == 11  # ids below the removed 13..15 keep their value
    assert mapping[train_id_by_name("train")] == 13 and mapping[train_id_by_name("bicycle")] == 15
    assert contiguous.class_names[13] == "train"
    label = contiguous[0]["label"]
    assert set(np.unique(label)) == set(range(16)) | {IGNORE_INDEX}
    np.testing.assert_array_equal(label[raw == train_id_by_name("bicycle")], 15)


def test_cityscapes_missing_label_is_a_clear_error(tmp_path):
    make_cityscapes(tmp_path)
    (tmp_path / "gtFine/train/bremen/bremen_000007_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(MissingLabelError, match="bremen_000007_000019_gtFine_labelIds.png"):
        CityscapesDataset(tmp_path, "train")
    assert len(CityscapesDataset(tmp_path, "train", missing_label="skip")) == 2


def test_cityscapes_missing_split_and_empty_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        CityscapesDataset(tmp_path, "val")
    (tmp_path / "leftImg8bit" / "val").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no"):
        CityscapesDataset(tmp_path, "val")


def test_joint_transform_receives_image_and_label(tmp_path):
    make_cityscapes(tmp_path)

    def flip(image, label):
        return image[:, ::-1].copy(), label[:, ::-1].copy()

    plain = CityscapesDataset(tmp_path)[0]
    flipped = CityscapesDataset(tmp_path, transform=flip)[0]
    np.testing.assert_array_equal(flipped["image"], plain["image"][:, ::-1])
    np.testing.assert_array_equal(flipped["label"], plain["label"][:, ::-1])


def test_size_mismatch_is_reported(tmp_path):
    make_cityscapes(tmp_path)
    write_map(tmp_path / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png", np.zeros((H + 1, W)))
    with pytest.raises(ValueError, match="size mismatch"):
        CityscapesDataset(tmp_path)[0]


def test_default_collate_batches_samples(tmp_path):
    import torch
    from torch.utils.data import DataLoader

    make_cityscapes(tmp_path)
    batch = next(iter(DataLoader(CityscapesDataset(tmp_path), batch_size=3)))
    assert batch["image"].shape == (3, H, W, 3) and batch["image"].dtype == torch.uint8
    assert batch["label"].shape == (3, H, W) and batch["label"].dtype == torch.int64
    assert len(batch["name"]) == 3


def test_class_selection_accepts_ids_and_rejects_unknown_names():
    sel = ClassSelection.build(exclude=[0, "sky"], contiguous=True)
    assert sel.lut[0] == IGNORE_INDEX and sel.lut[10] == IGNORE_INDEX
    assert sel.lut[1] == 0 and sel.lut[11] == 9 and sel.lut[255] == IGNORE_INDEX
    with pytest.raises(KeyError):
        ClassSelection.build(exclude=["lamppost"])


# --- StreetHazards -----------------------------------------------------------------------

def streethazards_raw() -> np.ndarray:
    # raw annotation = class index + 1: 0 void, 1 unlabeled, 2 building ... 13 traffic sign, 14 anomaly
    return (np.arange(H * W) % 15).reshape(H, W)


def make_streethazards(root: Path) -> None:
    for town, n in (("t1", 2), ("t2", 1)):
        for i in range(n):
            write_rgb(root / "train/images/training" / town / f"{i:03d}.png", seed=i)
            write_map(root / "train/annotations/training" / town / f"{i:03d}.png", streethazards_raw())
    write_rgb(root / "test/images/test/t5/300.png", seed=5)
    write_map(root / "test/annotations/test/t5/300.png", streethazards_raw())


def test_streethazards_labels_and_anomaly_mask(tmp_path):
    make_streethazards(tmp_path)
    train = StreetHazardsDataset(tmp_path, "training")
    assert len(train) == 3 and train.num_known_classes == 13 and train.anomaly_raw_value == 14
    assert [train[i]["name"] for i in range(3)] == ["t1/000", "t1/001", "t2/000"]
    test = StreetHazardsDataset(tmp_path, "test")
    sample = test[0]
    raw = streethazards_raw()
    label, anomaly = sample["label"], sample["anomaly"]
    np.testing.assert_array_equal(label[(raw >= 1) & (raw <= 13)], raw[(raw >= 1) & (raw <= 13)] - 1)
    assert (label[raw == 14] == IGNORE_INDEX).all() and (label[raw == 0] == IGNORE_INDEX).all()
    assert (anomaly[raw == 14] == 1).all()
    assert (anomaly[(raw >= 1) & (raw <= 13)] == 0).all()
    assert (anomaly[raw == 0] == IGNORE_INDEX).all()
    assert anomaly.dtype == np.uint8 and label.dtype == np.int64


def test_streethazards_unlabeled_as_void_and_missing_annotation(tmp_path):
    make_streethazards(tmp_path)
    sample = StreetHazardsDataset(tmp_path, "test", unlabeled_is_void=True)[0]
    raw = streethazards_raw()
    assert (sample["label"][raw == 1] == IGNORE_INDEX).all() and (sample["anomaly"][raw == 1] == IGNORE_INDEX).all()
    (tmp_path / "train/annotations/training/t2/000.png").unlink()
    with pytest.raises(MissingLabelError, match="t2"):
        StreetHazardsDataset(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        StreetHazardsDataset(tmp_path, "holdout")


def test_streethazards_joint_transform_gets_both_maps(tmp_path):
    make_streethazards(tmp_path)
    seen = {}

    def record(image, label, anomaly):
        seen["n"] = 3
        return image, label + 0, anomaly

    StreetHazardsDataset(tmp_path, "test", transform=record)[0]
    assert seen["n"] == 3


# --- BDD100K --------------------------------------------------------------------------------

def test_bdd100k_layout_and_exclusion(tmp_path):
    root = tmp_path / "bdd100k"
    mask = (np.arange(H * W) % 20).reshape(H, W)
    mask[0, 0] = 255
    for name in ("7d2f7975-e0c1c5a7", "7d4a9094-0455564b"):
        write_rgb(root / "images/10k/val" / f"{name}.jpg", ext=".jpg")
        write_map(root / "labels/sem_seg/masks/val" / f"{name}.png", mask)
    ds = BDD100KDataset(root, "val")
    assert len(ds) == 2 and ds[0]["name"] == "7d2f7975-e0c1c5a7"
    label = ds[0]["label"]
    np.testing.assert_array_equal(label[mask < 19], mask[mask < 19])
    assert (label[mask >= 19] == IGNORE_INDEX).all()
    assert ds[0]["image"].shape == (H, W, 3)
    excl = BDD100KDataset(root, "val", exclude_classes=("car",), contiguous=True)[0]["label"]
    assert (excl[mask == 13] == IGNORE_INDEX).all() and (excl[mask == 14] == 13).all()


def test_bdd100k_missing_mask_and_legacy_layout(tmp_path):
    root = tmp_path / "bdd"
    write_rgb(root / "images/10k/train/a.jpg", ext=".jpg")
    with pytest.raises(MissingLabelError, match="sem_seg"):
        BDD100KDataset(root, "train")
    write_rgb(root / "seg/images/train/b.jpg", ext=".jpg")
    write_map(root / "seg/labels/train/b_train_id.png", np.full((H, W), 2))
    legacy = BDD100KDataset(root, "train", image_dir="seg/images", label_dir="seg/labels", label_suffix="_train_id.png")
    assert (legacy[0]["label"] == 2).all()


# --- Fishyscapes / Lost and Found / Road Anomaly ------------------------------------------

def test_anomaly_mask_dataset_default_layout(tmp_path):
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[2:4, 3:5] = 1
    mask[-1] = 255
    write_rgb(tmp_path / "images/0001.png")
    write_map(tmp_path / "labels_masks/0001.png", mask)
    closed = np.full((H, W), 7, dtype=np.uint8)
    write_map(tmp_path / "labels_trainIds/0001.png", closed)
    ds = AnomalyMaskDataset(tmp_path)
    sample = ds[0]
    np.testing.assert_array_equal(sample["anomaly"], mask)
    assert (sample["label"] == IGNORE_INDEX).all()
    with_closed = AnomalyMaskDataset(tmp_path, closed_label_dir="labels_trainIds")[0]
    assert (with_closed["label"] == 7).all()


def test_road_anomaly_preset_maps_raw_values(tmp_path):
    raw = np.zeros((H, W), dtype=np.uint8)
    raw[:, :2] = 1  # road (in-distribution)
    raw[1:3, 4:6] = 2  # anomaly
    raw[5, 7] = 255
    write_rgb(tmp_path / "frames/animals01.jpg", ext=".jpg")
    write_map(tmp_path / "frames/animals01.labels/labels_semantic.png", raw)
    anomaly = AnomalyMaskDataset.road_anomaly(tmp_path)[0]["anomaly"]
    assert (anomaly[raw == 2] == 1).all() and (anomaly[raw <= 1] == 0).all() and anomaly[5, 7] == IGNORE_INDEX


def test_segment_me_if_you_can_naming_and_missing_mask(tmp_path):
    write_rgb(tmp_path / "images/validation0000.jpg", ext=".jpg")
    write_map(tmp_path / "labels_masks/validation0000_labels_semantic.png", np.ones((H, W)))
    assert (AnomalyMaskDataset.segment_me_if_you_can(tmp_path)[0]["anomaly"] == 1).all()
    write_rgb(tmp_path / "images/validation0001.jpg", ext=".jpg")
    with pytest.raises(MissingLabelError, match="validation0001_labels_semantic.png"):
        AnomalyMaskDataset.segment_me_if_you_can(tmp_path)
