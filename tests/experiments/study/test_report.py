"""The report renders from results.json alone: a hand-made one, and every
committed results directory byte for byte."""

import json
import os

import pytest

from experiments.study import report
from experiments.study.results import read_results

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "experiments", "results")
COMMITTED = sorted(d for d in os.listdir(RESULTS) if os.path.isdir(os.path.join(RESULTS, d)))


def curve_run(evaluated, losses, per_step, **more):
    """A run evaluated at the steps `evaluated`, each step costing `per_step`
    (seconds, FLOPs)."""
    curve = [[step, loss, 0.1] for step, loss in zip(evaluated, losses)]
    return {"curve": curve, "final_heldout_loss": losses[-1], "wall_seconds": 30.0,
            "curve_seconds": [per_step[0] * step for step in evaluated],
            "curve_flops": [per_step[1] * step for step in evaluated], **more}


def hand_made():
    """Two trained arms (the baseline with two seeds) and the control, one task."""
    scale = {"hidden": 32, "layers": 4, "heads": 2, "inner": 64, "seq": 32, "predictions": 5, "batch": 8,
             "steps": 20, "learning_rate": 0.001, "dropout": 0.0, "continue_steps": 6}
    totals = {"steps": 20, "step_seconds": 0.5, "train_seconds": 10.0, "flops": 2e12}
    baseline = curve_run([10, 20], [6.0, 5.0], (0.5, 1e11), **totals, seconds_to_baseline_loss=10.0,
                         flops_to_baseline_loss=2e12,
                         other_seeds={"1": curve_run([10, 20], [6.1, 5.2], (0.5, 1e11), seconds_to_baseline_loss=None)})
    token_drop = curve_run([10, 20], [6.2, 5.5], (0.4, 8e10), **{**totals, "step_seconds": 0.4, "train_seconds": 8.0,
                                                                "flops": 1.6e12}, seconds_to_baseline_loss=None)
    control = {"steps": 0, "step_seconds": 0.0, "train_seconds": 0.0, "wall_seconds": 0.0, "flops": 0,
               "final_heldout_loss": None}
    task = {"mean": 0.5, "std": 0.0, "seeds": [0.5], "majority_baseline": 0.25}
    return {
        "name": "hand", "command": "python experiments/token_drop_study.py --name=hand", "date": "2026-12-07",
        "machine": "x86_64, 2 cores", "study_wall_seconds": 120.0, "pretraining_wall_seconds": 90.0, "seed": 0,
        "scale": scale, "small_dense_layers": 3, "tasks": ["wn_supersense"], "unigram_heldout_loss": 6.5,
        "corpora": {"corpus": {"files": ["a.txt"], "heldout_every": 50, "vocab": "v", "vocab_size": 400,
                               "unigram_heldout_loss": 6.5}},
        "benchmark": {"step_seconds": {"baseline": 0.5}, "rounds": {"baseline": [0.5, 0.5]}, "steps_per_round": 1,
                      "load_before": 1.0, "load_after": 1.25},
        "runs": {"baseline": baseline, "token_drop": token_drop, "no_pretraining": control},
        "finetune": {"baseline": {"wn_supersense": {**task, "by_pretraining_seed": {"0": [0.5], "1": [0.7]}}},
                     "no_pretraining": {"wn_supersense": {**task, "mean": 0.25, "seeds": [0.2, 0.3],
                                                          "by_pretraining_seed": {"0": [0.2], "1": [0.3]}}}},
        "pretraining_benefit": {"baseline": {"wn_supersense": 0.25}},
        "benefit_kept_vs_baseline": {"baseline": {"wn_supersense": 1.0}},
        "to_baseline_loss_vs_baseline": {}, "to_baseline_loss_vs_baseline_by_seed": {},
    }


def test_markdown_of_a_hand_made_results_json():
    lines = report.markdown(hand_made()).splitlines()
    assert lines[0] == "# hand"
    assert lines[2].startswith("4-layer, 32-wide BERT (2 heads, FFN 64), seq 32, 5 predictions, batch 8, keep 16 for "
                               "token dropping, vocabulary corpus 400, dropout 0.0, lr 0.001 (10% of 20 steps "
                               "warm-up, linear decay), seed 0; small_dense has 3 layers. x86_64, 2 cores; "
                               "2026-12-07; this invocation 2 min")
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert rows == [
        "| baseline | 20 | 0.500 | 10 | 2.0 | 30 | 5.000 | 1.500 | 10 | 2.0 | 0.500 ± 0.000 (1) |",
        "| baseline seed 1 | 20 | 0.500 | 10 | 2.0 | 30 | 5.200 | 1.300 | - | - | 0.700 ± 0.000 (1) |",
        "| token_drop | 20 | 0.400 | 8 | 1.6 | 30 | 5.500 | 1.000 | - | - | - |",
        "| no_pretraining | 0 | 0.000 | 0 | 0.0 | 0 | - | - | - | - | 0.250 ± 0.050 (2) |"]
    assert "- token_drop (seed 0) reaches the same seed's baseline final held-out loss never within its run." in lines
    assert "- baseline pretraining benefit over no_pretraining: wn_supersense +25.0 points" in lines
    assert "- majority class: wn_supersense 0.250" in lines
    assert ("Step-seconds: medians of 2 interleaved rounds of 1 steps on one resident batch (load average 1.00 "
            "before, 1.25 after), every arm's training modes and table warm-up in them.") in lines
    assert lines[-1] == ("Every number: results.json. Commands: commands.txt. Plots: heldout_loss_vs_step_seconds.png, "
                         "heldout_loss_vs_flops.png.")


def test_main_renders_a_results_directory_from_its_results_json(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(hand_made()))
    assert report.main([str(tmp_path)]) == 0
    assert (tmp_path / "results.md").read_text() == report.markdown(hand_made())
    assert sorted(os.listdir(tmp_path)) == ["heldout_loss_vs_flops.png", "heldout_loss_vs_step_seconds.png",
                                            "results.json", "results.md"]
    assert (tmp_path / "heldout_loss_vs_flops.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == f"rendered {tmp_path / 'results.md'} and its plots from its results.json\n"


def test_a_study_without_curves_writes_and_names_no_plots(tmp_path):
    results = hand_made()
    results["runs"] = {"no_pretraining": results["runs"]["no_pretraining"]}
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert report.render(str(tmp_path)).endswith("Plots: none.\n")
    assert sorted(os.listdir(tmp_path)) == ["results.json", "results.md"]


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_results_re_render_byte_for_byte(name):
    directory = os.path.join(RESULTS, name)
    with open(os.path.join(directory, "results.md"), encoding="utf-8") as f:
        assert report.markdown(read_results(directory)) == f.read()


def released_made():
    """The released model's study: the release and random weights of its shape fine-tuned only, its dense
    continuation (two seeds) and token dropping, one task tried at two learning rates."""
    results = hand_made()
    results.update(name="released", init_checkpoint="/m/minilm", small_dense_layers=None, unigram_heldout_loss=None,
                   tasks=["convention_party"], pretraining_benefit={}, benefit_kept_vs_baseline={})
    results["scale"].update(positions=512, hidden_activation="gelu_exact", learning_rate=1e-4, dropout=0.1)
    results["corpora"] = {"released": {"files": ["sqlite_docs.txt"], "heldout_every": 10, "vocab_size": 30522,
                                       "vocab": "/m/minilm/tokenizer.json", "unigram_heldout_loss": 7.0}}
    totals = {"steps": 6, "step_seconds": 2.0, "train_seconds": 12.0, "flops": 3e12}
    dense = curve_run([3, 6], [4.0, 3.5], (2.0, 5e11), **totals, seconds_to_baseline_loss=12.0,
                      flops_to_baseline_loss=3e12, other_seeds={"1": curve_run([3, 6], [4.1, 3.6], (2.0, 5e11))})
    drop = curve_run([3, 6], [4.2, 3.6], (1.6, 4e11), **{**totals, "step_seconds": 1.6, "train_seconds": 9.6,
                                                          "flops": 2.4e12}, seconds_to_baseline_loss=None)
    untrained = results["runs"]["no_pretraining"]
    results["runs"] = {"released_dense": dense, "released_token_drop": drop, "released": untrained,
                       "released_random": untrained}
    task = {"std": 0.0, "majority_baseline": 0.609, "learning_rate": 1e-4,
            "dev_by_learning_rate": {"0.0001": 0.7, "0.0003": 0.65}}
    results["finetune"] = {
        "released_dense": {"convention_party": {**task, "mean": 0.7, "seeds": [0.7, 0.7],
                                                "by_pretraining_seed": {"0": [0.7], "1": [0.7]}}},
        "released": {"convention_party": {**task, "mean": 0.72, "std": 0.01, "seeds": [0.71, 0.73],
                                          "by_pretraining_seed": {"0": [0.71], "1": [0.73]}}},
        "released_random": {"convention_party": {**task, "mean": 0.61, "seeds": [0.61, 0.61],
                                                 "by_pretraining_seed": {"0": [0.61], "1": [0.61]}}}}
    return results


def test_markdown_of_the_released_models_study():
    lines = report.markdown(released_made()).splitlines()
    start = lines.index("## The released model /m/minilm, continued on sqlite_docs.txt")
    assert lines[start + 2].startswith(
        "Each continuation starts from it through task.init_checkpoint (its encoder; the MLM head, the importance "
        "table and the optimizer start fresh) with its own vocabulary (30522 tokens, /m/minilm/tokenizer.json), 512 "
        "positions and hidden_activation gelu_exact: 6 steps (lr 0.0001, warm-up 1, linear decay, dropout 0.1)")
    assert "under that vocabulary is at **7.000**" in lines[start + 2]
    rows = [line for line in lines[start + 4:] if line.startswith("| ") and "---" not in line][1:5]
    assert rows == [
        "| released_dense | 6 | 2.000 | 12 | 3.0 | 30 | 3.500 | 3.500 | 12 | 3.0 | 0.700 ± 0.000 (1) |",
        "| released_dense seed 1 | 6 | 2.000 | 12 | 3.0 | 30 | 3.600 | 3.400 | - | - | 0.700 ± 0.000 (1) |",
        "| released_token_drop | 6 | 1.600 | 10 | 2.4 | 30 | 3.600 | 3.400 | - | - | - |",
        # Not pretrained: every control seed in one row.
        "| released | 0 | 0.000 | 0 | 0.0 | 0 | - | - | - | - | 0.720 ± 0.010 (2) |"]
    assert "- convention_party: released 0.720 vs released_random 0.610 (+11.0 points; goal >= 5: met)." in lines
    assert ("- released_dense's learning rate, picked on mean dev accuracy: convention_party 0.0001 (dev 0.0001: "
            "0.700, 0.0003: 0.650).") in lines
    assert lines[-1] == ("Every number: results.json. Commands: commands.txt. Plots: "
                         "released_heldout_loss_vs_step_seconds.png, released_heldout_loss_vs_flops.png.")
