import json

import pytest

from owss_ros.tools.compare_runs import main, summarize_run
from owss_ros.training.config import load_train_config
from owss_ros.training.trainer import Trainer

from .conftest import tiny_overrides


def test_compare_runs_tabulates_real_histories_at_their_minutes(tiny_cityscapes, tmp_path, capsys):
    out = tmp_path / "short"
    Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, out, 4) + ["schedule.eval_every=2"])).fit()
    history = json.loads((out / "history.json").read_text())
    run = summarize_run("short", history)
    assert run.iterations == 4 and [iteration for _, iteration, _ in run.evaluations] == [2, 4]
    assert all(0.0 <= miou <= 100.0 for _, _, miou in run.evaluations)
    assert run.minutes >= run.evaluations[-1][0] > 0 and run.iterations_per_s > 0
    main([f"crop64={out}", "--plot", str(tmp_path / "curves.png")])
    printed = capsys.readouterr().out
    assert "| crop64 | 4 |" in printed and (tmp_path / "curves.png").stat().st_size > 1000


def test_compare_runs_refuses_a_run_without_history(tmp_path):
    with pytest.raises(SystemExit, match="history.json not found"):
        main([str(tmp_path)])
    with pytest.raises(ValueError, match="no timed training steps"):
        summarize_run("empty", [{"iteration": 2, "val_miou": 0.1}])
