import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from owss_ros.core.checkpoint import load_model
from owss_ros.training.config import load_train_config
from owss_ros.training.trainer import Trainer

from .conftest import tiny_overrides

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_config_overrides_and_unknown_keys(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("schedule:\n  lr: 0.01\nmodel:\n  backbone: pspnet_resnet18\n")
    cfg = load_train_config(cfg_file, ["schedule.lr=0.5", "data.exclude_classes=[car, truck, bus]"])
    assert cfg.schedule.lr == 0.5 and cfg.model.backbone == "pspnet_resnet18"
    assert cfg.data.exclude_classes == ["car", "truck", "bus"]
    with pytest.raises(ValueError, match="unknown config key"):
        load_train_config(None, ["schedule.lrr=1"])


def test_training_writes_outputs_and_excludes_classes(tiny_cityscapes, tmp_path):
    overrides = tiny_overrides(tiny_cityscapes, tmp_path / "run") + [
        "data.exclude_classes=[car, truck, bus]", "schedule.eval_every=2"]
    summary = Trainer(load_train_config(None, overrides)).fit()
    out = tmp_path / "run"
    for name in ("model_final.safetensors", "model_best.safetensors", "checkpoint_last.pt",
                 "training_curves.png", "history.json", "summary.json"):
        assert (out / name).is_file(), name
    assert summary["iterations"] == 4 and 0.0 <= summary["final_val_miou"] <= 1.0
    model, spec = load_model(out / "model_final.safetensors")
    assert spec.num_classes == 16 and "car" not in spec.class_names  # the paper's 16-class base model
    assert model(torch.zeros(1, 3, 64, 64)).shape[1] == 16
    history = json.loads((out / "history.json").read_text())
    assert [h["iteration"] for h in history if "loss" in h] == [1, 2, 3, 4]


def test_resume_reproduces_an_uninterrupted_run(tiny_cityscapes, tmp_path):
    straight = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "a", 4)))
    straight.fit()
    first = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "b", 4)))
    assert first.fit(stop_at=2)["paused"]  # a paused job: the checkpoint and the history so far, no weights
    assert not (tmp_path / "b" / "model_final.safetensors").exists()
    paused_history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [h["iteration"] for h in paused_history if "loss" in h] == [1, 2]
    resumed = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "b", 4)))
    assert resumed.resume() and resumed.iteration == 2
    resumed.fit()
    a = load_file(str(tmp_path / "a" / "model_final.safetensors"))
    b = load_file(str(tmp_path / "b" / "model_final.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)



def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint_resumable(tiny_cityscapes, tmp_path, monkeypatch):
    out = tmp_path / "run"
    trainer = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, out, 4)))
    trainer.fit(stop_at=2)
    before = (out / "checkpoint_last.pt").read_bytes()

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    trainer.iteration = 3
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert (out / "checkpoint_last.pt").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint_last.pt", "history.json"]  # no temp file left
    resumed = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, out, 4)))
    assert resumed.resume() and resumed.iteration == 2

@pytest.mark.slow
def test_two_process_ddp_keeps_identical_weights(tiny_cityscapes, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO)
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={port}",
           os.path.join(REPO, "test", "training", "ddp_worker.py"), str(tiny_cityscapes), str(tmp_path)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    initial = load_file(str(tmp_path / "initial.safetensors"))
    assert rank0.keys() == rank1.keys() and len(rank0) > 50
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    changed = [k for k in rank0 if k.endswith("weight") and not torch.equal(rank0[k], initial[k])]
    assert changed, "training did not update any weight"


def test_init_weights_continues_from_a_trained_model(tiny_cityscapes, tmp_path):
    Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "first", 2))).fit()
    first = tmp_path / "first" / "model_final.safetensors"
    overrides = tiny_overrides(tiny_cityscapes, tmp_path / "second", 2) + [f"model.init_weights={first}"]
    second = Trainer(load_train_config(None, overrides))
    trained = load_file(str(first))
    for key, value in second.core_model.state_dict().items():
        torch.testing.assert_close(value, trained[key], rtol=0, atol=0, msg=key)
    bad = tiny_overrides(tiny_cityscapes, tmp_path / "third", 2) + [f"model.init_weights={first}", "model.kind=ce"]
    with pytest.raises(ValueError, match="init_weights"):
        Trainer(load_train_config(None, bad))


def test_a_stride_8_model_initialises_a_stride_4_one_and_nothing_else_does(tiny_cityscapes, tmp_path):
    Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "s8", 2))).fit()
    coarse_path = tmp_path / "s8" / "model_final.safetensors"
    overrides = tiny_overrides(tiny_cityscapes, tmp_path / "s4", 2) + [
        f"model.init_weights={coarse_path}", "model.backbone=fast_scnn_s4"]
    refined = Trainer(load_train_config(None, overrides))
    coarse, _ = load_model(coarse_path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out4 = refined.core_model.eval()(x)
        up = torch.nn.functional.interpolate(coarse(x), size=out4.shape[-2:], mode="bilinear", align_corners=False)
    torch.testing.assert_close(out4, up, rtol=0, atol=1e-6)
    refined.fit()
    back = tiny_overrides(tiny_cityscapes, tmp_path / "back", 2) + [
        f"model.init_weights={tmp_path / 's4' / 'model_final.safetensors'}"]
    with pytest.raises(ValueError, match="init_weights"):  # a refined model does not shrink back to stride 8
        Trainer(load_train_config(None, back))


def test_frozen_encoder_and_head_train_only_the_refiner(tiny_cityscapes, tmp_path):
    Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "s8", 2))).fit()
    coarse = load_file(str(tmp_path / "s8" / "model_final.safetensors"))
    overrides = tiny_overrides(tiny_cityscapes, tmp_path / "s4", 3) + [
        f"model.init_weights={tmp_path / 's8' / 'model_final.safetensors'}", "model.backbone=fast_scnn_s4",
        "model.frozen=[encoder,head]", "schedule.lr=0.05"]
    trainer = Trainer(load_train_config(None, overrides))
    trainer.fit()
    refined = load_file(str(tmp_path / "s4" / "model_final.safetensors"))
    for key, value in coarse.items():  # weights and BatchNorm statistics of the base: unchanged
        torch.testing.assert_close(refined[key], value, rtol=0, atol=0, msg=key)
    assert any(".refiner." in k and not torch.equal(v, torch.zeros_like(v))
               for k, v in refined.items() if k.endswith("residual.weight"))
    assert all(not p.requires_grad for p in trainer.core_model.net.encoder.parameters())
    bad = tiny_overrides(tiny_cityscapes, tmp_path / "bad", 2) + ["model.frozen=[encoder,head]"]
    with pytest.raises(ValueError, match="nothing to train"):  # a stride-8 net has no refiner to train
        Trainer(load_train_config(None, bad))
    with pytest.raises(ValueError, match="cannot freeze"):
        Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "x", 2) + ["model.frozen=[refiner]"]))


@pytest.mark.parametrize("kind", ["dml", "ce"])
def test_class_weighting_uses_the_training_label_frequencies(tiny_cityscapes, tmp_path, kind):
    import numpy as np
    from PIL import Image

    from owss_ros.core.losses import log_inverse_class_weights
    from owss_ros.data.label_maps import CITYSCAPES_NAMES, label_id_to_train_id_lut

    overrides = tiny_overrides(tiny_cityscapes, tmp_path / kind, 2) + [
        f"model.kind={kind}", "schedule.class_weighting=log_inverse"]
    summary = Trainer(load_train_config(None, overrides)).fit()
    lut = np.asarray(label_id_to_train_id_lut())
    counts = np.zeros(256, np.int64)
    for path in sorted((tiny_cityscapes / "gtFine" / "train").rglob("*_labelIds.png")):
        counts += np.bincount(lut[np.asarray(Image.open(path))].ravel(), minlength=256)
    expected = log_inverse_class_weights(counts[:19] / counts[:19].sum())
    weights = torch.tensor(summary["class_weights"])
    torch.testing.assert_close(weights, expected)
    names = list(CITYSCAPES_NAMES)
    # the scene is mostly sky and road; the person strip is the rarest drawn class; bicycles never occur
    assert weights[names.index("sky")] < weights[names.index("person")] < weights[names.index("bicycle")]
    unweighted = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "plain", 1)))
    assert unweighted.class_weights is None


def test_a_time_budget_stops_with_an_evaluation_history_and_the_last_weights(tiny_cityscapes, tmp_path):
    out = tmp_path / "run"
    overrides = tiny_overrides(tiny_cityscapes, out, 6) + ["schedule.eval_every=0"]
    first = Trainer(load_train_config(None, overrides))
    first.fit(stop_at=2)
    spent_s = [h["wall_s"] for h in first.history if "wall_s" in h][-1]
    resumed = Trainer(load_train_config(None, overrides))
    assert resumed.resume()
    summary = resumed.fit(stop_after_s=spent_s)  # the budget counts across resumes: already spent
    assert summary["paused"] and summary["iterations"] == 2 and 0.0 <= summary["val_miou"] <= 1.0
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["iteration"] == 2 and "val_miou" in history[-1] and "wall_s" in history[-1]
    last = load_file(str(out / "model_last.safetensors"))
    checkpoint = torch.load(out / "checkpoint_last.pt", weights_only=True)["model"]
    for key in last:
        torch.testing.assert_close(last[key], checkpoint[key], rtol=0, atol=0, msg=key)
    assert not (out / "model_final.safetensors").exists()
    finished = Trainer(load_train_config(None, overrides))
    assert finished.resume()
    assert finished.fit(stop_after_s=3600.0)["iterations"] == 6  # a generous budget runs the schedule out
    assert (out / "model_final.safetensors").is_file()


def test_train_cli_minutes_stops_after_the_budget_and_refuses_a_non_positive_one(tiny_cityscapes, tmp_path, capsys):
    from owss_ros.cli.main import main

    out = tmp_path / "run"
    sets = [arg for override in tiny_overrides(tiny_cityscapes, out, 50) for arg in ("--set", override)]
    with pytest.raises(SystemExit, match="--minutes must be positive"):
        main(["train", *sets, "--minutes", "0"])
    assert not out.exists()  # refused before any data was read or folder made
    assert main(["train", *sets, "--minutes", "0.0001"]) == 0  # 6 ms: over after the first step
    assert "model_last.safetensors" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert [h["iteration"] for h in history if "loss" in h] == [1] and "val_miou" in history[-1]


def test_weight_average_is_evaluated_saved_and_resumed(tiny_cityscapes, tmp_path):
    """ema_decay > 0: the average is an EMA of the raw weights (decay d: a = d a + (1 - d) w after the
    first step's copy), evaluated beside them, saved as *_ema, and carried through --resume."""
    ema = ["schedule.ema_decay=0.5", "schedule.eval_every=2"]
    straight = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "a", 4) + ema))
    tracked = []  # raw weights after each step, to recompute the average by hand
    step = straight._step

    def recording_step(*args):
        step(*args)
        tracked.append({k: v.detach().clone() for k, v in straight.core_model.state_dict().items()})
    straight._step = recording_step
    straight.fit()
    expected = {k: v.float() for k, v in tracked[0].items()}
    for weights in tracked[1:]:
        expected = {k: 0.5 * expected[k] + 0.5 * weights[k].float() for k in expected}
    averaged = load_file(str(tmp_path / "a" / "model_final_ema.safetensors"))
    raw = load_file(str(tmp_path / "a" / "model_final.safetensors"))
    name = next(k for k in raw if k.endswith("weight") and raw[k].dim() == 4)
    assert not torch.allclose(averaged[name], raw[name])  # four steps apart, the average lags
    for key in averaged:
        if averaged[key].is_floating_point():
            torch.testing.assert_close(averaged[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert [h["iteration"] for h in history if "val_miou_ema" in h] == [2, 4]

    first = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "b", 4) + ema))
    first.fit(stop_at=2)
    resumed = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "b", 4) + ema))
    assert resumed.resume()
    resumed.fit()
    again = load_file(str(tmp_path / "b" / "model_final_ema.safetensors"))
    for key in averaged:
        torch.testing.assert_close(again[key], averaged[key], rtol=0, atol=1e-6, msg=key)
    with pytest.raises(ValueError, match="ema_decay"):
        Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "c", 4) + ["schedule.ema_decay=1.0"]))
