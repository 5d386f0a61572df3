import numpy as np
import torch

from owss_ros.cli.main import main
from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.novel_guard import KnownPixelSample
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.evaluation.known_pixels import sample_known_pixels
from owss_ros.evaluation.networks import load_network
from owss_ros.training.data import AugmentedDataset
from owss_ros.training.transforms import EvalTransform
from owss_ros.core.dmlnet import upsampled_output


def test_sampled_pixels_are_labelled_pixels_of_the_upsampled_embedding(tiny_data, tiny_models):
    network = load_network(tiny_models["dml"])
    dataset = AugmentedDataset(CityscapesDataset(tiny_data, "val"), EvalTransform())
    sample = sample_known_pixels(network, dataset, per_image=50, seed=3)
    assert sample.embeddings.shape == (150, 19) and sample.model_fingerprint == network.fingerprint
    image, label = dataset[0]
    with torch.no_grad():
        embedding = upsampled_output(network.model, image[None])[0].reshape(19, -1).T
    valid = embedding[torch.from_numpy(label.numpy().reshape(-1) != 255)]
    first = sample.embeddings[:50]
    nearest = torch.cdist(first, valid, compute_mode="donot_use_mm_for_euclid_dist").amin(dim=1)
    assert float(nearest.max()) < 1e-4  # every sampled row is one of the image's labelled pixels


def test_cli_writes_a_sample_tied_to_the_model(tiny_data, tiny_models, tmp_path):
    out = tmp_path / "known.safetensors"
    assert main(["sample-known-pixels", "--model", str(tiny_models["dml"]), "--data", str(tiny_data),
                 "--per-image", "20", "--out", str(out)]) == 0
    sample = KnownPixelSample.load(out, expected_fingerprint=file_fingerprint(tiny_models["dml"]))
    assert sample.embeddings.shape == (60, 19) and np.isfinite(sample.embeddings.numpy()).all()


def test_a_16_class_model_samples_only_pixels_of_its_own_classes(tiny_data, tiny_models, tmp_path, capsys):
    out = tmp_path / "known16.safetensors"
    assert main(["sample-known-pixels", "--model", str(tiny_models["dml16"]), "--data", str(tiny_data),
                 "--per-image", "100000000", "--out", str(out)]) == 0  # every labelled pixel
    assert "(not car, truck, bus)" in capsys.readouterr().out
    sample = KnownPixelSample.load(out, expected_fingerprint=file_fingerprint(tiny_models["dml16"]))

    def labelled(dataset):
        return sum(int((np.asarray(dataset[i]["label"]) != IGNORE_INDEX).sum()) for i in range(len(dataset)))

    own = labelled(CityscapesDataset(tiny_data, "val", exclude_classes=["car", "truck", "bus"]))
    assert sample.embeddings.shape[0] == own < labelled(CityscapesDataset(tiny_data, "val"))
