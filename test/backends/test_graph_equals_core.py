"""The exported graph - what the vehicle runs - computes exactly the core's definition.

The README tables measure :func:`owss_ros.core.open_set.open_set_maps` (via evaluation); the node
runs :class:`owss_ros.backends.pipeline.FramePipeline`, exported to ONNX. Here both the scoring
stage on random embeddings and prototype sets, and the whole exported pipeline on the embedding
it outputs itself, are compared with the core for every score_mode x eds_normalization, with
taught classes present: labels equal, maps to 1e-5, in torch and in onnxruntime.
"""

from __future__ import annotations

import io
import itertools
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from backend_test_helpers import structured_frame

from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.onnx_export import OPSET, ExportOptions, export_onnx
from owss_ros.backends.pipeline import ScoringStage
from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.open_set import ScoringConfig, open_set_maps
from owss_ros.core.prototypes import DEFAULT_TEMPERATURE, one_hot_squared_distances
from owss_ros.core.scoring import EDSNormalization, ScoreMode

N = 19
MODES = list(itertools.product(ScoreMode, EDSNormalization))
MAP_TOLERANCE = 1e-5
STAGE_INPUTS = ("embedding", "novel_prototypes", "novel_thresholds", "novel_valid", "score_params")


def random_case(seed: int, hw=(24, 40), slots=3):
    """Embeddings near random prototypes (some pixels near the centroid: anomalous) and a
    class set with taught classes whose prototypes are pixels of the embedding."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, N, hw, generator=g)
    embedding = DEFAULT_TEMPERATURE * torch.nn.functional.one_hot(labels, N).permute(2, 0, 1).float()
    embedding = embedding * torch.rand(1, *hw, generator=g) + 0.6 * torch.randn(N, *hw, generator=g)
    embedding = embedding[None]
    class_set = ClassSet.from_base([f"c{i}" for i in range(N)], capacity=slots)
    h, w = hw
    for k, (y, x) in enumerate([(3, 5), (h // 2, w - 3), (h - 3, 8)][:slots]):
        prototype = embedding[0, :, y, x] + 0.05 * torch.randn(N, generator=g)
        class_set, _ = class_set.with_novel(f"taught{k}", prototype.numpy(), lambda_novel=3.0 + k)
    if slots > 2:
        class_set, _ = class_set.without("taught1")  # an unused slot between used ones
    return embedding, class_set


def config_for(mode: ScoreMode, normalization: EDSNormalization, embedding: torch.Tensor) -> ScoringConfig:
    s = one_hot_squared_distances(embedding, DEFAULT_TEMPERATURE).sum(dim=1)  # Eq. 7, for a range inside S
    eds_range = (float(s.quantile(0.1)), float(s.quantile(0.9)))
    config = ScoringConfig(score_mode=mode, eds_normalization=normalization, eds_range=eds_range,
                           beta=12.0, gamma=0.6)
    core = open_set_maps(embedding, config)
    # both unknown and base pixels in the open-set map, and no pixel at the threshold (a tie would
    # make the comparison test float rounding): the middle of the widest gap near the median
    values = np.unique(core.anomaly.numpy().ravel())
    lo, hi = int(0.4 * len(values)), int(0.6 * len(values))
    i = lo + int(np.argmax(np.diff(values[lo:hi + 1])))
    lambda_out = float((values[i] + values[i + 1]) / 2)
    return ScoringConfig(**{**config.__dict__, "lambda_out": lambda_out})


def core_maps(embedding, class_set, config, size=None, score_size=None):
    inputs = GraphInputs.build(class_set, config)
    maps = open_set_maps(embedding, config, torch.from_numpy(inputs.novel_prototypes),
                         torch.from_numpy(inputs.novel_thresholds), torch.from_numpy(inputs.novel_valid), size,
                         score_size)
    return [m[0].numpy() for m in (maps.close_labels, maps.anomaly, maps.open_labels)]


def assert_same(got, expected, what):
    close, anomaly, open_labels = got
    np.testing.assert_array_equal(close.astype(np.int64), expected[0], err_msg=f"{what}: close labels")
    np.testing.assert_array_equal(open_labels.astype(np.int64), expected[2], err_msg=f"{what}: open labels")
    np.testing.assert_allclose(anomaly, expected[1], rtol=0, atol=MAP_TOLERANCE, err_msg=f"{what}: anomaly")


@pytest.fixture(scope="module")
def stage_session(tmp_path_factory):
    """The scoring stage exported as the pipeline is (opset, exporter, dynamic H, W, K)."""
    stage = ScoringStage(DEFAULT_TEMPERATURE).eval()
    embedding, class_set = random_case(0, hw=(16, 24), slots=2)
    inputs = GraphInputs.build(class_set, ScoringConfig())
    example = (embedding, *(torch.from_numpy(v) for v in inputs.feed().values()))
    axes = {"embedding": {2: "h", 3: "w"}, "novel_prototypes": {0: "k"}, "novel_thresholds": {0: "k"},
            "novel_valid": {0: "k"}, "close": {1: "h", 2: "w"}, "anomaly": {1: "h", 2: "w"}, "open": {1: "h", 2: "w"}}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(stage, example, buffer, dynamo=False, opset_version=OPSET, input_names=list(STAGE_INPUTS),
                          output_names=["close", "anomaly", "open"], dynamic_axes=axes)
    return stage, ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("mode, normalization", MODES, ids=[f"{m.value}-{n.value}" for m, n in MODES])
def test_scoring_stage_equals_the_core_in_torch_and_onnxruntime(stage_session, mode, normalization):
    stage, session = stage_session
    embedding, class_set = random_case(MODES.index((mode, normalization)))
    config = config_for(mode, normalization, embedding)
    expected = core_maps(embedding, class_set, config)
    assert (expected[2] >= N).any() and (expected[2] < N).any() and (expected[2] == UNKNOWN_ID).any()
    inputs = GraphInputs.build(class_set, config)
    with torch.no_grad():
        got = stage(embedding, *(torch.from_numpy(v) for v in inputs.feed().values()))
    assert_same([m[0].numpy() for m in got], expected, "torch")
    feed = dict(zip(STAGE_INPUTS, [embedding.numpy(), *inputs.feed().values()]))
    assert_same([m[0] for m in session.run(None, feed)], expected, "onnxruntime")


def exported_pipeline(tmp_path_factory, score_resolution: str, backbone: str = "fast_scnn") -> ort.InferenceSession:
    """The whole pipeline of a random-weights model, exported at ``score_resolution``, in onnxruntime."""
    from backend_test_helpers import save_random_model

    directory = tmp_path_factory.mktemp(f"graph_equals_core_{score_resolution}")
    model = save_random_model(directory / "model.safetensors", seed=3, backbone=backbone)
    options = ExportOptions(max_prototypes=4, score_resolution=score_resolution)
    report = export_onnx(model, directory / f"{score_resolution}.onnx", options)
    return ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])


def taught_on_own_embedding(session, image):
    """The session's own (1, C, h, w) embedding of ``image`` and a class set with two classes
    taught from pixels of it."""
    (embedding,) = session.run(["embedding"], {"image": image, **GraphInputs.unused_slots(1, N).feed()})
    embedding = torch.from_numpy(embedding)
    class_set = ClassSet.from_base([f"c{i}" for i in range(N)], capacity=4)
    for k, (y, x) in enumerate([(2, 3), (5, 12)]):
        class_set, _ = class_set.with_novel(f"t{k}", embedding[0, :, y, x].numpy(), lambda_novel=4.0)
    return embedding, class_set


@pytest.fixture(scope="module", params=["fast_scnn", "fast_scnn_s4"])
def feature_export(tmp_path_factory, request):
    """Both output strides: 1/8, and 1/4 with the refiner."""
    return exported_pipeline(tmp_path_factory, "feature", request.param)


@pytest.mark.parametrize("mode, normalization", MODES, ids=[f"{m.value}-{n.value}" for m, n in MODES])
def test_the_exported_pipeline_scores_its_own_embedding_as_the_core_does(feature_export, mode, normalization):
    image = structured_frame((64, 128), seed=1)[None]
    embedding, class_set = taught_on_own_embedding(feature_export, image)
    config = config_for(mode, normalization, embedding)
    expected = core_maps(embedding, class_set, config)
    assert (expected[2] >= N).any()
    got = feature_export.run(["close_labels", "anomaly", "open_labels"],
                             {"image": image, **GraphInputs.build(class_set, config).feed()})
    assert_same([m[0] for m in got], expected, "exported pipeline")


@pytest.fixture(scope="module")
def half_scores_export(tmp_path_factory):
    return exported_pipeline(tmp_path_factory, "half_scores")


@pytest.mark.parametrize("mode, normalization", MODES, ids=[f"{m.value}-{n.value}" for m, n in MODES])
def test_the_half_scores_graph_is_the_cores_split_resolution_decision(half_scores_export, mode, normalization):
    """score_resolution half_scores: labels and maps at the input size, scores formed at 1/2 -
    the core's open_set_maps(size, score_size), labels equal and maps to 1e-5 in onnxruntime."""
    hw = (64, 128)
    image = structured_frame(hw, seed=2)[None]
    embedding, class_set = taught_on_own_embedding(half_scores_export, image)
    config = config_for(mode, normalization, embedding)
    expected = core_maps(embedding, class_set, config, hw, (hw[0] // 2, hw[1] // 2))
    assert expected[0].shape == hw and (expected[2] >= N).any()
    got = half_scores_export.run(["close_labels", "anomaly", "open_labels"],
                                 {"image": image, **GraphInputs.build(class_set, config).feed()})
    near_threshold = np.abs(expected[1] - config.lambda_out) < 1e-4  # lambda_out was picked at feature size
    got[2] = np.where(near_threshold, expected[2], got[2][0])[None]
    assert_same([m[0] for m in got], expected, "exported half_scores pipeline")


def test_novel_distances_are_a_matmul_not_a_conv_over_runtime_weights(tmp_path):
    """TensorRT needs a Conv's output-channel count when it builds the engine; K (the prototype
    count) is a run-time axis, so the novel distances must be a MatMul (issue 11)."""
    import onnx
    from backend_test_helpers import save_random_model

    report = export_onnx(save_random_model(tmp_path / "m.safetensors", seed=1), tmp_path / "m.onnx",
                         ExportOptions(max_prototypes=3))
    graph = onnx.load(str(report.path)).graph
    consumers = {}
    for n in graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    seen, frontier = set(), ["novel_prototypes"]
    while frontier:  # everything computed from the prototypes
        name = frontier.pop()
        for n in consumers.get(name, []):
            if id(n) not in seen:
                seen.add(id(n))
                frontier.extend(n.output)
    ops = {n.op_type for n in graph.node if id(n) in seen}
    assert "MatMul" in ops and "Conv" not in ops, ops
