"""Synthetic scene generator: determinism, label validity, image/label alignment, anomalies,
and the ``generate`` command end to end."""

import json

import numpy as np
import pytest

from owss_ros.core.classes import CITYSCAPES_CLASSES, CITYSCAPES_NAMES, IGNORE_INDEX
from owss_ros.data import AnomalyMaskDataset, CityscapesDataset, StreetHazardsDataset
from owss_ros.data.synthetic import ANOMALY_TRAIN_ID, generate_dataset, render_scene, scene_rng, write_preview
from owss_ros.data.synthetic import anomalies, labels as L, people, street_furniture, two_wheelers, vegetation, vehicles
from owss_ros.data.synthetic.camera import Camera
from owss_ros.data.synthetic.canvas import LayeredCanvas
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.layout import sample_layout
from owss_ros.data.synthetic.lighting import sample_lighting
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.writer import Job, render_job

TRAIN_LABEL_IDS = {c.label_id for c in CITYSCAPES_CLASSES}


@pytest.fixture(scope="module")
def train_scenes():
    return [render_job(Job("", "train", i, 7, 512, 256)) for i in range(40)]


@pytest.fixture(scope="module")
def anomaly_scenes():
    return [render_job(Job("", "anomaly", i, 7, 512, 256)) for i in range(8)]


# --- determinism --------------------------------------------------------------------------

def test_same_seed_gives_identical_image_and_labels():
    a = render_scene(scene_rng(3, "train", 5), 320, 160, anomalies=2)
    b = render_scene(scene_rng(3, "train", 5), 320, 160, anomalies=2)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.label_ids.tobytes() == b.label_ids.tobytes()
    assert a.anomaly.tobytes() == b.anomaly.tobytes()


def test_different_seed_split_or_index_gives_different_scenes():
    base = render_scene(scene_rng(3, "train", 5), 320, 160).image
    for rng in (scene_rng(4, "train", 5), scene_rng(3, "val", 5), scene_rng(3, "train", 6)):
        other = render_scene(rng, 320, 160).image
        assert np.mean(other != base) > 0.5


def test_output_does_not_depend_on_worker_count(tmp_path):
    counts = {"train": 3, "anomaly": 2}
    generate_dataset(tmp_path / "one", counts, 128, 64, seed=11, workers=1)
    generate_dataset(tmp_path / "two", counts, 128, 64, seed=11, workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    assert len(files) == 3 * 3 + 2 * 3
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel


# --- labels ------------------------------------------------------------------------------

def test_every_pixel_has_a_valid_label(train_scenes, anomaly_scenes):
    for scene in train_scenes:
        values = set(np.unique(scene.label_ids).tolist())
        assert values <= TRAIN_LABEL_IDS | {L.EGO_VEHICLE}, values - TRAIN_LABEL_IDS
        train_ids = scene.train_ids
        void = scene.label_ids == L.EGO_VEHICLE
        assert ((train_ids <= 18) | void).all()
        assert (train_ids[void] == IGNORE_INDEX).all()
        assert not (scene.anomaly == 1).any()
    for scene in anomaly_scenes:
        values = set(np.unique(scene.label_ids).tolist())
        assert values <= TRAIN_LABEL_IDS | {L.EGO_VEHICLE, L.UNLABELED}
        # unlabeled (0) is used for anomalies and nothing else
        np.testing.assert_array_equal(scene.label_ids == L.UNLABELED, scene.anomaly == 1)
        np.testing.assert_array_equal(scene.label_ids == L.EGO_VEHICLE, scene.anomaly == IGNORE_INDEX)
        open_ids = scene.open_set_train_ids
        assert (open_ids[scene.anomaly == 1] == ANOMALY_TRAIN_ID).all()
        assert (scene.train_ids[scene.anomaly == 1] == IGNORE_INDEX).all()


def test_all_classes_appear_across_scenes(train_scenes):
    seen = np.zeros(19, dtype=int)
    for scene in train_scenes:
        present = np.bincount(scene.train_ids.ravel(), minlength=256)[:19] > 0
        seen += present
    missing = [CITYSCAPES_NAMES[k] for k in range(19) if seen[k] == 0]
    assert not missing, missing
    frequent = ["road", "building", "vegetation", "sky", "pole", "car"]
    for name in frequent:
        assert seen[CITYSCAPES_NAMES.index(name)] >= 30, (name, seen)


def test_label_edges_follow_image_edges(train_scenes):
    for scene in train_scenes[:6]:
        grey = scene.image.astype(np.float32).mean(axis=2)
        grad = np.maximum(np.abs(np.diff(grey, axis=0))[:, :-1], np.abs(np.diff(grey, axis=1))[:-1])
        lab = scene.label_ids
        edge = (np.diff(lab, axis=0) != 0)[:, :-1] | (np.diff(lab, axis=1) != 0)[:-1]
        assert grad[edge].mean() > 2.0 * grad[~edge].mean()
        strong = grad > np.percentile(grad, 90)
        assert strong[edge].mean() > 0.3  # 0.1 would be chance


def test_colour_alone_does_not_separate_classes(train_scenes):
    """Nearest-mean-colour classification stays far below perfect: class colours overlap."""
    pixels = np.concatenate([s.image.reshape(-1, 3) for s in train_scenes[:6]]).astype(np.float32)
    classes = np.concatenate([s.train_ids.ravel() for s in train_scenes[:6]])
    keep = classes < 19
    pixels, classes = pixels[keep][::7], classes[keep][::7]
    ids = np.unique(classes)
    means = np.stack([pixels[classes == c].mean(axis=0) for c in ids])
    pred = ids[((pixels[:, None, :] - means[None]) ** 2).sum(-1).argmin(axis=1)]
    balanced_accuracy = np.mean([(pred[classes == c] == c).mean() for c in ids])
    assert balanced_accuracy < 0.5


# --- single objects: the label is exactly what was drawn ---------------------------------------

BACKGROUND = (1, 2, 3)


def blank_context(seed: int = 0) -> SceneContext:
    rng = np.random.default_rng(seed)
    camera = Camera(width=320, height=160, focal=300.0, cx=160.0, horizon=70.0, height_m=1.5, roll_deg=1.5)
    canvas = LayeredCanvas(320, 160)
    big = np.array([[-10, -10], [400, -10], [400, 200], [-10, 200]], dtype=float)
    canvas.polygon(big, BACKGROUND, L.ROAD, Material.SMOOTH)
    return SceneContext(camera, sample_layout(rng, "urban"), sample_lighting(rng), canvas, rng)


def drawn_and_labelled(ctx: SceneContext) -> tuple[np.ndarray, np.ndarray]:
    colour, label, _, _, _ = ctx.canvas.arrays()
    return (colour != np.array(BACKGROUND, dtype=np.uint8)).any(axis=2), label != L.ROAD


OBJECTS = {
    "car": lambda c: vehicles.draw_car(c, vehicles.Placement(1.0, 9.0, 0.1, False)),
    "oncoming car": lambda c: vehicles.draw_car(c, vehicles.Placement(-2.5, 12.0, -0.05, True)),
    "truck": lambda c: vehicles.draw_truck(c, vehicles.Placement(2.0, 14.0, 0.0, False)),
    "bus": lambda c: vehicles.draw_bus(c, vehicles.Placement(-3.0, 16.0, 0.0, True)),
    "train": lambda c: vehicles.draw_train(c, vehicles.Placement(0.5, 25.0, 0.02, False)),
    "person": lambda c: people.draw_person(c, 1.0, 6.0, 0.0),
    "cyclist": lambda c: two_wheelers.draw_bicycle(c, 0.0, 7.0, 0.0, True, True),
    "motorcyclist": lambda c: two_wheelers.draw_motorcycle(c, 0.5, 8.0, 0.0, False, True),
    "traffic light": lambda c: street_furniture.draw_traffic_light(c, 3.0, 10.0, 0.15, 1),
    "sign": lambda c: street_furniture.draw_traffic_sign(c, -2.5, 6.0, 0.15),
    "tree": lambda c: vegetation.draw_tree(c, 3.0, 12.0, 0.15),
    **{f"anomaly {k}": (lambda kind: lambda c: anomalies.draw_anomaly(
        c, kind, 0.2, 7.0,
    ))(k) for k in anomalies.ANOMALY_KINDS},
}


@pytest.mark.parametrize("name", list(OBJECTS))
def test_single_object_label_matches_drawn_pixels_exactly(name):
    ctx = blank_context(seed=len(name))
    OBJECTS[name](ctx)
    drawn, labelled = drawn_and_labelled(ctx)
    assert drawn.sum() > 30, "object not visible"
    np.testing.assert_array_equal(drawn, labelled)


def test_anomaly_objects_are_labelled_as_anomaly_only():
    for seed, kind in enumerate(anomalies.ANOMALY_KINDS):
        ctx = blank_context(seed)
        anomalies.draw_anomaly(ctx, kind, 0.0, 8.0)
        _, label, _, _, _ = ctx.canvas.arrays()
        assert set(np.unique(label).tolist()) == {L.ROAD, L.ANOMALY}, kind


def test_anomaly_scenes_have_visible_anomalies_on_the_ground(anomaly_scenes):
    for scene in anomaly_scenes:
        mask = scene.anomaly == 1
        assert mask.sum() >= 50
        rows = np.flatnonzero(mask.any(axis=1))
        assert rows.max() > scene.image.shape[0] * 0.4  # they stand on the road, below the horizon
        # anomalies are drawn with their own colours: the image differs inside vs. around them
        ys, xs = np.nonzero(mask)
        assert scene.image[ys, xs].std() > 2.0


# --- CLI and layouts -----------------------------------------------------------------------

def test_generate_command_writes_layouts_readable_by_the_loaders(tmp_path):
    from owss_ros.cli.main import main

    out = tmp_path / "synth"
    code = main(["generate", "--out", str(out), "--train", "3", "--val", "2", "--anomaly", "2", "--hazards", "2",
                 "--size", "160x80", "--seed", "5", "--quiet"])
    assert code == 0
    train = CityscapesDataset(out, "train")
    val = CityscapesDataset(out, "val")
    assert len(train) == 3 and len(val) == 2
    sample = train[0]
    assert sample["image"].shape == (80, 160, 3) and sample["name"] == "synth00/synth00_000000_000019"
    assert set(np.unique(sample["label"]).tolist()) <= set(range(19)) | {IGNORE_INDEX}
    assert (out / "gtFine/train/synth00/synth00_000000_000019_gtFine_color.png").is_file()

    fishy = AnomalyMaskDataset(out / "anomaly", closed_label_dir="labels_trainIds")
    assert len(fishy) == 2
    s = fishy[0]
    assert (s["anomaly"] == 1).any() and set(np.unique(s["anomaly"]).tolist()) <= {0, 1, 255}
    assert (s["label"][s["anomaly"] == 1] == IGNORE_INDEX).all()

    hazards = StreetHazardsDataset(out / "streethazards", "test", class_names=CITYSCAPES_NAMES)
    assert len(hazards) == 2 and hazards.anomaly_raw_value == 20
    h = hazards[1]
    assert (h["anomaly"] == 1).any() and (h["label"][h["anomaly"] == 1] == IGNORE_INDEX).all()
    assert h["label"][h["anomaly"] == 0].max() <= 18

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 3, "val": 2, "anomaly": 2, "hazards": 2}
    assert manifest["size"] == [160, 80] and manifest["seed"] == 5
    freq = manifest["splits"]["train"]["class_pixel_frequency"]
    assert set(freq) == set(CITYSCAPES_NAMES)
    assert sum(freq.values()) + manifest["splits"]["train"]["void_fraction"] == pytest.approx(1.0, abs=1e-4)
    assert manifest["splits"]["anomaly"]["anomaly_fraction"] > 0


def test_generate_command_rejects_bad_arguments(capsys):
    from owss_ros.cli.main import main

    with pytest.raises(SystemExit):
        main(["generate", "--out", "x", "--size", "big"])
    assert main(["generate"]) == 2


def test_preview_grid(tmp_path):
    from PIL import Image

    path = write_preview(tmp_path / "preview.png", count=2, seed=0, width=128, height=64, columns=2)
    with Image.open(path) as im:
        assert im.size == (2 * (128 * 2 + 4) + 12, 64)


def test_a_manifest_write_that_fails_part_way_keeps_the_previous_manifest(tmp_path, monkeypatch):
    import resource
    import signal

    from owss_ros.data.synthetic import writer

    generate_dataset(tmp_path, {"val": 1}, 64, 32, seed=0)
    before = (tmp_path / "manifest.json").read_bytes()
    real_build = writer.build_manifest
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG

    def build_then_limit_file_size(*args):
        manifest = real_build(*args)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, limits[1]))  # the disk fills up right now
        return manifest

    monkeypatch.setattr(writer, "build_manifest", build_then_limit_file_size)
    try:
        with pytest.raises(OSError):
            generate_dataset(tmp_path, {"val": 1}, 64, 32, seed=1)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".manifest.json")]
