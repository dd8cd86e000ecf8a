"""Fine-tuning summaries: the learning rate picked on dev, the test scores
at that rate, by hand."""

from experiments.study.finetuning import finetune_summary, mean_dev_accuracy, picked_rate


def run(dev, test):
    return {"validation": {"accuracy": dev}, "test": {"accuracy": test}, "majority_baseline": 0.6}


def pick(by_rate):
    return picked_rate(mean_dev_accuracy(by_rate))


def test_the_rate_with_the_best_mean_dev_accuracy_is_picked_ties_to_the_smaller():
    assert pick({"0.0003": [run(0.75, 0), run(0.25, 0)], "0.0001": [run(0.625, 0)]}) == "0.0001"
    assert pick({"0.0003": [run(0.75, 0), run(0.5, 0)], "0.0001": [run(0.625, 0)]}) == "0.0001"  # a tie
    assert pick({"0.0003": [run(0.875, 0), run(0.5, 0)], "0.0001": [run(0.625, 0)]}) == "0.0003"


def test_summary_reports_the_test_scores_at_the_picked_rate_over_every_seed():
    results = {"released_dense": {"convention_party": {
        # Two pretraining seeds x one fine-tune; 3e-4's mean dev 0.75 beats
        # 1e-4's 0.625, whose better test scores are not looked at.
        "0.0001": {"0": [run(0.5, 0.9)], "1": [run(0.75, 0.9)]},
        "0.0003": {"0": [run(0.875, 0.625)], "1": [run(0.625, 0.75)]}}}}
    summary = finetune_summary(results)["released_dense"]["convention_party"]
    assert summary["learning_rate"] == 3e-4
    assert summary["dev_by_learning_rate"] == {"0.0001": 0.625, "0.0003": 0.75}
    assert summary["seeds"] == [0.625, 0.75] and summary["by_pretraining_seed"] == {"0": [0.625], "1": [0.75]}
    assert (summary["mean"], summary["std"]) == (0.6875, 0.0625)
    assert summary["majority_baseline"] == 0.6
