import json
import math

import numpy as np
import pytest
import torch

from owss_ros.cli.main import main
from owss_ros.core.classes import IGNORE_INDEX, train_id_by_name
from owss_ros.core.npm import novel_prototype
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.data.image_io import read_label
from owss_ros.evaluation.few_shot_benchmark import aggregate, label_lookup, masked_ground_truth, summarize_iou
from owss_ros.evaluation.fine_tune_baseline import extend_output_dimension, fine_tune_new_class
from owss_ros.evaluation.networks import load_network
from owss_ros.evaluation.novel_threshold import shot_distance_quantile
from owss_ros.evaluation.shot_sampler import ClassPresence, draw_shots, load_shots

from .conftest import BASE16

CAR, TRUCK, BUS = (train_id_by_name(n) for n in ("car", "truck", "bus"))


@pytest.fixture(scope="module")
def train_split(tiny_data):
    dataset = CityscapesDataset(tiny_data, "train")
    return dataset, ClassPresence.scan(dataset)


def test_class_presence_counts_label_pixels(train_split):
    dataset, presence = train_split
    label = dataset.decode_maps(read_label(dataset.samples[3].label), dataset.samples[3])["label"]
    assert presence.pixel_counts[3, CAR] == np.count_nonzero(label == CAR)
    assert presence.pixel_counts.sum() == sum(np.count_nonzero(
        dataset.decode_maps(read_label(s.label), s)["label"] != IGNORE_INDEX) for s in dataset.samples)


def test_shot_draws_are_deterministic_nested_and_contain_the_class(train_split):
    dataset, presence = train_split
    for class_id in (CAR, TRUCK, BUS):
        eligible = set(presence.images_with(class_id, 20).tolist())
        draws = [draw_shots(presence, class_id, 3, seed, min_pixels=20) for seed in range(4)]
        assert draws[0] == draw_shots(presence, class_id, 3, 0, min_pixels=20)  # same seed, same shots
        assert len({tuple(d) for d in draws}) > 1  # other seeds, other shots
        for seed, draw in enumerate(draws):
            assert len(set(draw)) == 3 and set(draw) <= eligible
            assert draw_shots(presence, class_id, 1, seed, min_pixels=20) == draw[:1]  # 1-shot within 5-shot
        shots = load_shots(dataset, class_id, draws[0])
        assert shots.masks.shape == (3, 64, 128) and shots.images.shape == (3, 3, 64, 128)
        assert bool(shots.masks.flatten(1).any(1).all()) and shots.class_name == dataset.class_names[class_id]
        for mask, index in zip(shots.masks, draws[0]):  # the mask is exactly that class's GT
            paths = dataset.samples[index]
            label = dataset.decode_maps(read_label(paths.label), paths)["label"]
            assert np.array_equal(mask.numpy(), label == class_id)
    with pytest.raises(ValueError, match="shots requested"):
        draw_shots(presence, CAR, 1000, 0)


def test_harmonic_mean_and_old_novel_split():
    iou = np.full(19, np.nan)
    old = [train_id_by_name(n) for n in BASE16]
    iou[old] = 0.6
    iou[CAR], iou[TRUCK] = 0.2, 0.4
    row = summarize_iou(iou, old, [CAR, TRUCK])
    assert row["miou_old"] == pytest.approx(0.6) and row["miou_novel"] == pytest.approx(0.3)
    assert row["harmonic"] == pytest.approx(2 * 0.6 * 0.3 / 0.9)
    assert row["iou_per_class"][BUS] is None  # not taught: not reported
    summary = aggregate([row, {**row, "harmonic": 0.0, "miou_old": 0.2}])
    assert summary["harmonic"] == pytest.approx(0.2) and summary["harmonic_std"] == pytest.approx(
        np.std([0.4, 0.0], ddof=1))


def test_ground_truth_of_untaught_classes_is_ignored():
    label = np.array([[CAR, TRUCK, BUS, 0]])
    assert masked_ground_truth(label, [TRUCK, BUS]).tolist() == [[CAR, IGNORE_INDEX, IGNORE_INDEX, 0]]
    lut = label_lookup(BASE16, ["car", "truck"])
    assert lut[16].item() == CAR and lut[17].item() == TRUCK and lut[13].item() == train_id_by_name("train")


def test_novel_threshold_rule_is_the_leave_one_out_quantile():
    torch.manual_seed(0)
    embeddings = torch.randn(3, 4, 5, 6)
    masks = torch.rand(3, 5, 6) > 0.5
    value = shot_distance_quantile(embeddings, masks, 0.9)
    distances = []
    for q in range(3):
        others = [i for i in range(3) if i != q]
        prototype, _ = novel_prototype(embeddings[others], masks[others])
        distances.append(((embeddings[q][:, masks[q]] - prototype[:, None]) ** 2).sum(0))
    assert value == pytest.approx(float(np.quantile(torch.cat(distances).numpy(), 0.9)), rel=1e-6)
    single, _ = novel_prototype(embeddings[:1], masks[:1])
    in_sample = ((embeddings[0][:, masks[0]] - single[:, None]) ** 2).sum(0).numpy()
    assert shot_distance_quantile(embeddings[:1], masks[:1], 0.5) == pytest.approx(np.quantile(in_sample, 0.5),
                                                                                  rel=1e-6)


def test_fine_tuning_adds_a_dimension_and_keeps_the_old_weights_at_start(tiny_models):
    base = load_network(tiny_models["dml16"]).model
    extended = extend_output_dimension(base)
    assert extended.num_classes == 17 and extended.base_distances(torch.zeros(1, 17, 1, 1)).shape == (1, 17, 1, 1)
    image = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(extended(image)[:, :16], base(image))
    before = [p.clone() for p in base.parameters()]
    mask = torch.zeros(1, 64, 128, dtype=torch.bool)
    mask[:, 20:40, 30:60] = True
    tuned = fine_tune_new_class(base, image, mask, steps=2)
    assert tuned.num_classes == 17 and not tuned.training
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters()))  # the base model is untouched
    changed = [not torch.equal(a, b) for a, b in zip(tuned.net.encoder.parameters(), base.net.encoder.parameters())]
    assert any(changed)  # FT trains the whole network, encoder included


def test_few_shot_command_rows(tmp_path, tiny_data, tiny_models):
    argv = ["few-shot", "--base-model", str(tiny_models["dml16"]), "--oracle-model", str(tiny_models["dml"]),
            "--data", str(tiny_data), "--shots", "2", "1", "--draws", "3", "--plm-steps", "2", "--ft-steps", "1",
            "--min-shot-pixels", "20", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    document = json.loads((tmp_path / "few_shot_results.json").read_text())
    assert (tmp_path / "table.md").read_text().count("| 16+3 |") == 2 + 2 * 4
    rows = document["rows"]
    methods = {(r["setting"], r["shots"], r["method"]) for r in rows}
    for setting in ("16+1", "16+3"):
        assert (setting, None, "Base") in methods and (setting, None, "Oracle") in methods
        for shots in (2, 1):
            for method in ("FT", "PLM-latest", "PLM-all", "NPM"):
                assert (setting, shots, method) in methods
    old = [train_id_by_name(n) for n in BASE16]
    for row in rows:
        taught = [CAR] if row["setting"] == "16+1" else [CAR, TRUCK, BUS]
        for class_id, value in enumerate(row["iou_per_class"]):
            if class_id in old + taught:
                assert value is None or 0.0 <= value <= 1.0
            else:
                assert value is None  # a class neither old nor taught is never reported
        if row["method"] not in ("Base", "Oracle"):
            assert row["num_draws"] == 3
    for draw in document["per_draw"]:  # the harmonic mean of every draw
        o, n = draw["miou_old"], draw["miou_novel"]
        expected = 0.0 if o + n == 0 else 2 * o * n / (o + n)
        assert draw["harmonic"] == pytest.approx(expected)
        assert math.isclose(o, np.nanmean([draw["iou_per_class"][i] if draw["iou_per_class"][i] is not None
                                           else np.nan for i in old]))
    base_row = next(r for r in rows if r["method"] == "Base" and r["setting"] == "16+1")
    assert base_row["miou_novel"] == 0.0  # the base model never predicts car
    records = document["draw_records"]
    assert len(records) == 6 and all(set(r["shot_images"]) == {"car", "truck", "bus"} for r in records)
    assert all(v > 0 for r in records for v in r["npm_lambda_novel"].values())


def test_npm_guard_caps_every_class_threshold_by_its_known_pixel_bound(tmp_path, tiny_data, tiny_models):
    from owss_ros.core.novel_guard import KnownPixelSample

    common = ["few-shot", "--base-model", str(tiny_models["dml16"]), "--data", str(tiny_data), "--shots", "2",
              "--draws", "1", "--stages", "1", "--methods", "NPM", "--min-shot-pixels", "20", "--no-progress"]
    assert main(common + ["--out", str(tmp_path / "plain")]) == 0
    sample_path = tmp_path / "known.safetensors"
    assert main(["sample-known-pixels", "--model", str(tiny_models["dml16"]), "--data", str(tiny_data),
                 "--per-image", "100", "--guard-quantile", "0.01", "--out", str(sample_path)]) == 0
    assert main(common + ["--known-pixels", str(sample_path), "--out", str(tmp_path / "guarded")]) == 0
    plain = json.loads((tmp_path / "plain" / "few_shot_results.json").read_text())
    guarded = json.loads((tmp_path / "guarded" / "few_shot_results.json").read_text())
    lam_plain = plain["draw_records"][0]["npm_lambda_novel"]["car"]
    lam_guarded = guarded["draw_records"][0]["npm_lambda_novel"]["car"]
    assert lam_guarded <= lam_plain
    assert guarded["teaching"]["novel_guard"]["quantile"] == 0.01
    # re-derive the car prototype from the same draw: the guarded radius is min(shot rule, known-pixel bound)
    sample = KnownPixelSample.load(sample_path)
    base = load_network(tiny_models["dml16"])
    dataset = CityscapesDataset(tiny_data, "train")
    presence = ClassPresence.scan(dataset)
    shots = load_shots(dataset, CAR, draw_shots(presence, CAR, 2, 0, 20))
    with torch.no_grad():
        prototype, _ = novel_prototype(base.model(shots.images), shots.masks)
    bound = sample.distance_quantile(prototype)
    assert lam_guarded == pytest.approx(min(lam_plain, bound), rel=1e-5)
    assert sample.share_within(prototype, lam_guarded) <= 0.01 + 1e-9
    # --guard-quantile overrides the sample's own budget: the radius is min(shot rule, the 20% bound)
    assert main(common + ["--known-pixels", str(sample_path), "--guard-quantile", "0.2",
                          "--out", str(tmp_path / "loose")]) == 0
    loose = json.loads((tmp_path / "loose" / "few_shot_results.json").read_text())
    assert loose["teaching"]["novel_guard"]["quantile"] == 0.2
    lam_loose = loose["draw_records"][0]["npm_lambda_novel"]["car"]
    assert lam_loose == pytest.approx(min(lam_plain, sample.distance_quantile(prototype, 0.2)), rel=1e-5)
    assert main(common + ["--guard-quantile", "0.2", "--out", str(tmp_path / "refused")]) == 2


def test_fine_tuning_a_stride_four_net_widens_its_refiner_too():
    from owss_ros.core.checkpoint import ModelSpec, build_model

    torch.manual_seed(3)
    base = build_model(ModelSpec(backbone="fast_scnn_s4", class_names=[f"c{i}" for i in range(5)])).eval()
    with torch.no_grad():
        base.net.refiner.residual.weight.normal_(0.0, 0.1)  # a trained refiner changes the outputs
        base.net.refiner.fuse[0][1].running_mean.normal_(0.0, 0.1)
    extended = extend_output_dimension(base)
    image = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        out = extended(image)
        torch.testing.assert_close(out[:, :5], base(image))  # the old dimensions compute as before
        coarse = extended.net.head(extended.net.encoder(image))
        upsampled = torch.nn.functional.interpolate(coarse, size=out.shape[-2:], mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[:, 5], upsampled[:, 5])  # the new one starts unrefined
    mask = torch.zeros(1, 64, 128, dtype=torch.bool)
    mask[:, 20:40, 30:60] = True
    tuned = fine_tune_new_class(base, image, mask, steps=2)
    assert tuned.num_classes == 6 and tuned(image).shape[1] == 6
    assert not torch.equal(tuned.net.refiner.residual.weight, extended.net.refiner.residual.weight)


def test_npm_background_prototypes_in_the_benchmark_follow_the_node_rule(tiny_data, tiny_models):
    """With background prototypes the harness teaches as the node does (core.npm.background_prototypes
    on the cells the calibrated scoring flags unknown, slots of ClassSet.decision_slots): a background
    only takes pixels from the class, and K = 0 is the paper's NPM exactly."""
    from owss_ros.core.npm import background_prototypes, novel_class_index
    from owss_ros.core.open_set import ScoringConfig, unknown_cells
    from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances, upsample
    from owss_ros.core.scoring import close_set_labels
    from owss_ros.evaluation.few_shot_learners import TeachingOptions, predict_all, teach_classes

    base = load_network(tiny_models["dml16"]).model
    dataset = CityscapesDataset(tiny_data, "train")
    shots = load_shots(dataset, CAR, draw_shots(ClassPresence.scan(dataset), CAR, 2, 0, 20))
    scoring = ScoringConfig(lambda_out=0.3)
    with pytest.raises(ValueError, match="calibrated scoring"):
        TeachingOptions(methods=("NPM",), background_prototypes=2)
    paper = teach_classes(base, [shots], TeachingOptions(methods=("NPM",)))
    taught = teach_classes(base, [shots], TeachingOptions(methods=("NPM",), background_prototypes=2, scoring=scoring))
    with torch.no_grad():
        embeddings = base(shots.images)
    expected = background_prototypes(embeddings, shots.masks, unknown_cells(embeddings, scoring), 2)
    assert len(expected) == 2
    entry = taught.class_sets[0].novel_entries[0]
    assert torch.allclose(torch.tensor(entry.background, dtype=torch.float64), expected.double(), atol=1e-6)
    assert not paper.class_sets[0].novel_entries[0].background

    image = shots.images[:1]
    car_id = base.num_classes
    with_background = predict_all(taught, image, [1])[("NPM", 1)]
    without = predict_all(paper, image, [1])[("NPM", 1)]
    with torch.no_grad():  # the paper's NPM written out: Eq. 12 beside the base prototypes
        embedding = upsample(base(image), tuple(image.shape[-2:]))
        distances = one_hot_squared_distances(embedding, base.temperature)
        novel = novel_class_index(squared_distances(embedding, paper.prototypes[0][None]), distances,
                                  torch.tensor([paper.thresholds[0]]))
        literal = torch.where(novel[0] >= 0, car_id + novel[0], close_set_labels(distances)[0])
        to_car = squared_distances(embedding, paper.prototypes[0][None])[0, 0]
        to_background = squared_distances(embedding, expected).amin(dim=1)[0]
    assert torch.equal(without, literal)
    changed = (with_background != without)
    assert bool(changed.any())  # the backgrounds do take pixels here
    assert bool((without[changed] == car_id).all()) and not bool((with_background[changed] == car_id).any())
    assert bool((to_background[changed] <= to_car[changed] + 1e-4).all())


def test_few_shot_background_prototypes_need_the_base_models_calibration(tmp_path, tiny_data, tiny_models):
    from owss_ros.core.calibration import Calibration, ScoringDefinition, write_calibration
    from owss_ros.core.open_set import ScoringConfig

    common = ["few-shot", "--base-model", str(tiny_models["dml16"]), "--data", str(tiny_data), "--shots", "2",
              "--draws", "1", "--stages", "1", "--methods", "NPM", "--min-shot-pixels", "20", "--no-progress",
              "--background-prototypes", "2"]
    assert main(common + ["--out", str(tmp_path / "refused")]) == 2
    base = load_network(tiny_models["dml16"])
    scoring = ScoringDefinition.of(ScoringConfig(), base.spec.num_classes)
    write_calibration(tmp_path / "other.yaml", Calibration(scoring, 0.3, None, "0" * 64))
    assert main(common + ["--unknown-calibration", str(tmp_path / "other.yaml"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    write_calibration(tmp_path / "base.yaml", Calibration(scoring, 0.3, None, base.fingerprint))
    assert main(common + ["--unknown-calibration", str(tmp_path / "base.yaml"), "--out", str(tmp_path / "ok")]) == 0
    document = json.loads((tmp_path / "ok" / "few_shot_results.json").read_text())
    assert document["teaching"]["background_prototypes"] == 2
    assert document["teaching"]["unknown_scoring"]["lambda_out"] == pytest.approx(0.3)
