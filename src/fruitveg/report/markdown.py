"""metrics/report.md: the report's content as Markdown, readable on its own."""

from typing import Any

import numpy as np

from fruitveg.core import evidence, trained_with
from fruitveg.report import lightening
from fruitveg.report.build import AUDIT_FACTS
from fruitveg.report.learning_speed import markdown_lines as learning_speed_lines

SYNTHETIC = (
    "**These numbers come from the offline synthetic default**: generated pictures of drawn "
    "shapes, not photos of fruit and vegetables, few epochs and no pretrained weights. They "
    "show that the pipeline runs end to end; they say nothing about the study's models."
)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _lr(value: float) -> str:
    return np.format_float_scientific(value, trim="-", exp_digits=1)


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _p(value: float) -> str:
    return f"{value:.3g}"


def _interval(value: float, low: float | None, high: float | None, scale: float) -> str:
    shown = f"{scale * value:.2f}" if scale == 100 else f"{value:.4f}"
    if low is None or high is None:
        return f"{shown} (n/a)"  # the bootstrap found no spread (see the JSON)
    if scale == 100:
        return f"{shown} ({scale * low:.2f}-{scale * high:.2f})"
    return f"{shown} ({low:.4f}-{high:.4f})"


def _per_task(values: dict[str, Any], show: Any) -> str:
    return "; ".join(f"{task}: {show(v)}" for task, v in values.items())


def header_lines(h: dict[str, Any]) -> list[str]:
    raw = (
        f"md5 `{h['raw_md5']}` ({h['raw_files']} files), as DVC recorded data/raw in dvc.lock"
        if h["raw_md5"]
        else "not recorded (dvc.lock has no download stage yet: run `dvc repro`)"
    )
    sizes = set(h["image_size"].values())
    size = f"{sizes.pop()} px square" if len(sizes) == 1 else _per_task(h["image_size"], str)
    splits = _per_task(
        h["images_per_split"],
        lambda s: ", ".join(f"{split} {n}" for split, n in s.items()),
    )
    removed = _per_task(
        h["removed_copies_of_test"],
        lambda r: ", ".join(f"{n} from {s}" for s, n in r.items()) if r else "not recorded",
    )
    of_train = {t: n for t, n in h["removed_copies_of_train"].items() if isinstance(n, int)}
    lines = [
        f"- **Data**: {h['data']} (params.yaml `data.source: {h['data_source']}`).",
        f"- **data/raw fingerprint**: {raw}.",
        f"- **Image size**: {size}, as the layouts hold them.",
        f"- **Images per split after dedupe**: {splits}.",
        f"- **Copies of test images removed** from training splits: {removed}.",
    ]
    if of_train:
        lines.append(
            f"- **Copies of training images removed** from validation: {_per_task(of_train, str)}."
        )
    if h["audit"]:
        found = ", ".join(
            f"{AUDIT_FACTS[k]}: {evidence.by_evidence(n) if k == 'copies_by_evidence' else n}"
            for k, n in h["audit"].items()
        )
        lines.append(f"- **Audit of data/raw**: {found}.")
    if "trained_with" in h:  # reports built before it was recorded have none
        facts = "; ".join(trained_with.summary(h["trained_with"]))
        lines.append(
            f"- **Trained with** (what changes the numbers beyond params.yaml, as each train "
            f"stage recorded it): {facts}."
        )
    lines.append(
        "- **Evaluated checkpoint**: the epoch of best validation accuracy (`best epoch`) "
        "out of the epochs trained."
    )
    if placeholders := h.get("placeholder_backbones"):  # older reports have none
        lines.append(
            f"- **Placeholder backbones** ({', '.join(placeholders)}): random weights "
            "(`weights: none`), frozen (`freeze_backbone: true`), so only the head is trained, "
            "on random features: they score at chance by design and only keep the pipeline's "
            "shape. The study's settings (`study/study.yaml`) fine-tune ImageNet weights."
        )
    if h["synthetic"]:
        lines += ["", SYNTHETIC]
    return lines


def results_lines(report: dict[str, Any]) -> list[str]:
    conf = round(100 * report["confidence"])
    lines = [
        "## Test results",
        "",
        f"Accuracy with its {conf} % exact (Clopper-Pearson) interval; macro F1 with its "
        f"{conf} % BCa bootstrap interval over the test images; balanced accuracy is the mean "
        "recall per class; ECE is the expected calibration error of the top prediction's "
        "probability. `p vs majority`: exact McNemar test (two-sided) against always "
        "answering the training split's most common class, on the same images; Holm-adjusted "
        "over every model in brackets. Under each task: what always answering its majority "
        "class scores, and the expected scores of a uniform random guess.",
        "",
        f"| model | task | weights | best epoch / trained | test accuracy % ({conf} % CI) "
        f"| balanced accuracy % | macro F1 ({conf} % CI) | loss | ECE | p vs majority (Holm) |",
        "|---|---|---|---:|---|---:|---|---:|---:|---:|",
    ]
    for task in dict.fromkeys(r["task"] for r in report["models"]):
        for r in (r for r in report["models"] if r["task"] == task):
            vs = r["against_majority"]
            lines.append(
                f"| {r['model']} | {r['task']} | {r['weights']} "
                f"| {r['best_epoch'] or '-'} / {r['epochs']} "
                f"| {_interval(r['accuracy'], r['accuracy_ci_low'], r['accuracy_ci_high'], 100)} "
                f"| {_pct(r['balanced_accuracy'])} "
                f"| {_interval(r['f1_macro'], r['f1_macro_ci_low'], r['f1_macro_ci_high'], 1)} "
                f"| {r['loss']:.4f} | {r['ece']:.4f} | {_p(vs['p_value'])} ({_p(vs['p_holm'])}) |"
            )
        for b in (b for b in report["baselines"] if b["task"] == task):
            if b["baseline"] == "majority":
                name = f"*majority class: always {b['label']}*"
                acc = _interval(b["accuracy"], b["accuracy_ci_low"], b["accuracy_ci_high"], 100)
            else:
                name, acc = "*chance: uniform guess (expected)*", _pct(b["accuracy"])
            lines.append(
                f"| {name} | {task} | | | {acc} | {_pct(b['balanced_accuracy'])} "
                f"| {b['f1_macro']:.4f} | | | |"
            )
    sizes = sorted({(r["task"], r["n_test"]) for r in report["models"]})
    one_image = "; ".join(
        f"{task}: {n} images, one image = {100 / n:.2f} points" for task, n in sizes
    )
    return [*lines, "", f"Test sets: {one_image}.", ""]


def cost_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        "## Cost",
        "",
        "Training time is the sum of the epochs' durations; inference speed is measured on "
        "the test split right after training, on whatever machine trained the model.",
        "",
        "| model | learning rate | parameters | training time | inference images/s | latency ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["models"]:
        lines.append(
            f"| {r['model']} | {_lr(r['lr'])} | {r['params']:,} | {_duration(r['train_seconds'])} "
            f"| {_rate(r['images_per_s'])} | {r['latency_ms']:.2f} |"
        )
    return [*lines, ""]


def paired_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        "## Paired tests on the same test images",
        "",
        f"Exact McNemar test (two-sided): only the images on which exactly one of the two "
        f"models is right tell them apart. The verdict reads the Holm-adjusted p-value over "
        f"the {len(report['paired_tests'])} comparisons of this table, at α = {report['alpha']}.",
        "",
        "| model A | model B | accuracy A % | accuracy B % | A − B, points "
        "| only A right | only B right | p-value | Holm p | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in report["paired_tests"]:
        lines.append(
            f"| {t['a']} | {t['b']} | {_pct(t['accuracy_a'])} | {_pct(t['accuracy_b'])} "
            f"| {100 * (t['accuracy_a'] - t['accuracy_b']):+.2f} | {t['only_a_correct']} "
            f"| {t['only_b_correct']} | {_p(t['p_value'])} | {_p(t['p_holm'])} | {t['verdict']} |"
        )
    return [*lines, ""]


def confused_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        "## Most confused class pairs (mistakes either way, all 36-class models)",
        "",
        "| classes | mistakes | by model |",
        "|---|---:|---|",
    ]
    for c in report["confused_pairs"]:
        by_model = ", ".join(f"{m} {n}" for m, n in c["by_model"].items())
        lines.append(f"| {c['classes'][0]} ↔ {c['classes'][1]} | {c['errors']} | {by_model} |")
    return [*lines, ""]


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Model comparison", "", *header_lines(report["header"]), ""]
    lines += results_lines(report) + cost_lines(report)
    if report["paired_tests"]:
        lines += paired_lines(report) + learning_speed_lines(report["learning_speed"])
    if report["confused_pairs"]:
        lines += confused_lines(report)
    if report.get("lightening"):  # reports built before export@<model> existed have none
        lines += lightening.markdown_lines(report)
    return "\n".join(lines)
