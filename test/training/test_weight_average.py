"""Weight averaging (owss_ros average-weights): the mean is element-wise, specs must match."""

import pytest
import torch

from owss_ros.cli.main import main
from owss_ros.core.checkpoint import ModelSpec, build_model, load_model, save_model
from owss_ros.training.weight_average import average_state_dicts, normalised_weights

SPEC = ModelSpec(backbone="fast_scnn", kind="dml")


def _model_file(path, seed, spec=SPEC):
    torch.manual_seed(seed)
    model = build_model(spec)
    with torch.no_grad():  # non-trivial BatchNorm statistics and step counters
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5)
            else:
                buffer.fill_(seed + 1)
    save_model(path, model, spec)
    return model.state_dict()


def test_the_weighted_mean_of_every_float_tensor_and_the_last_counters(tmp_path):
    a = _model_file(tmp_path / "a.safetensors", 0)
    b = _model_file(tmp_path / "b.safetensors", 1)
    assert main([
        "average-weights", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
        "--weights", "1", "3", "--out", str(tmp_path / "mix.safetensors")]) == 0
    mixed, spec = load_model(tmp_path / "mix.safetensors")
    assert spec == SPEC
    state = mixed.state_dict()
    floats = [k for k in a if a[k].is_floating_point()]
    counters = [k for k in a if not a[k].is_floating_point()]
    assert floats and counters
    for key in floats:
        torch.testing.assert_close(state[key], 0.25 * a[key] + 0.75 * b[key], rtol=1e-6, atol=1e-6)
    for key in counters:
        assert torch.equal(state[key], b[key])


def test_a_model_averaged_with_itself_is_unchanged(tmp_path):
    a = _model_file(tmp_path / "a.safetensors", 0)
    averaged = average_state_dicts([a, a])
    assert all(torch.equal(averaged[k], a[k]) for k in a)


def test_models_of_other_specs_are_refused(tmp_path):
    _model_file(tmp_path / "a.safetensors", 0)
    _model_file(tmp_path / "b.safetensors", 1, ModelSpec(backbone="fast_scnn", kind="dml", temperature=2.0))
    with pytest.raises(ValueError, match="differs"):
        main(["average-weights", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
              "--out", str(tmp_path / "mix.safetensors")])
    assert not (tmp_path / "mix.safetensors").exists()


@pytest.mark.parametrize("count, weights, message", [(1, None, "at least two"), (2, [1.0], "2 models"),
                                                      (2, [1.0, -1.0], ">= 0"), (2, [0.0, 0.0], "positive")])
def test_bad_weights_are_refused(count, weights, message):
    with pytest.raises(ValueError, match=message):
        normalised_weights(count, weights)


def test_state_dicts_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        average_state_dicts([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])
