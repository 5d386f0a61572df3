import pytest
import torch

from owss_ros.core.novel_guard import KnownPixelSample


def _sample(n=2000, c=19, seed=0, q=0.01):
    g = torch.Generator().manual_seed(seed)
    return KnownPixelSample(torch.randn(n, c, generator=g) * 0.5 + 3.0 * torch.eye(c)[torch.randint(0, c, (n,), generator=g)],
                            "f" * 64, "test", q)


def test_bound_admits_the_stated_share_of_known_pixels():
    sample = _sample()
    prototype = sample.embeddings[:50].mean(dim=0)  # a prototype among known pixels: the dangerous case
    lam, bound = sample.bounded_lambda(100.0, prototype)
    assert lam == bound < 100.0
    assert sample.share_within(prototype, bound) <= 0.01 + 1e-9
    assert sample.share_within(prototype, bound * 1.5) > 0.01  # the bound is the quantile, not just any small value
    far = torch.full((19,), -10.0)
    lam_far, bound_far = sample.bounded_lambda(2.0, far)
    assert lam_far == 2.0 and bound_far > 2.0  # a prototype far from every known pixel keeps its own radius


def test_save_load_round_trip_and_refusals(tmp_path):
    sample = _sample()
    path = tmp_path / "known.safetensors"
    sample.save(path)
    loaded = KnownPixelSample.load(path, expected_fingerprint="f" * 64)
    torch.testing.assert_close(loaded.embeddings, sample.embeddings, atol=2e-3, rtol=2e-3)  # stored as fp16
    assert loaded.guard_quantile == 0.01 and loaded.source == "test"
    with pytest.raises(ValueError, match="sampled with model"):
        KnownPixelSample.load(path, expected_fingerprint="0" * 64)
    bad = tmp_path / "bad.safetensors"
    from safetensors.torch import save_file
    save_file({"embeddings": torch.zeros(3, 19)}, str(bad))
    with pytest.raises(ValueError, match="not a version-1 known-pixel sample"):
        KnownPixelSample.load(bad)
    with pytest.raises(ValueError, match="guard_quantile"):
        KnownPixelSample(torch.zeros(3, 19), "x", guard_quantile=1.5)
    with pytest.raises(ValueError, match="19-d sample"):
        sample.distance_quantile(torch.zeros(18))
