"""metrics/report.md: the report's content as Markdown tables."""

from typing import Any

import numpy as np


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


def to_markdown(report: dict[str, Any]) -> str:
    conf = round(100 * report["confidence"])
    lines = [
        "# Model comparison",
        "",
        f"Test accuracy with its {conf} % percentile-bootstrap interval over the test images. "
        "Training time is the sum of the epochs' durations; inference speed is measured in "
        "the evaluation run, on whatever machine ran it.",
        "",
        f"| model | task | test accuracy % ({conf} % CI) | loss | macro F1 | learning rate "
        "| parameters | epochs | training time | inference images/s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["models"]:
        lines.append(
            f"| {r['model']} | {r['task']} | {_pct(r['accuracy'])} "
            f"({_pct(r['accuracy_ci_low'])}-{_pct(r['accuracy_ci_high'])}) | {r['loss']:.4f} "
            f"| {r['f1_macro']:.4f} | {_lr(r['lr'])} | {r['params']:,} | {r['epochs']} "
            f"| {_duration(r['train_seconds'])} | {_rate(r['images_per_s'])} |"
        )
    sizes = sorted({(r["task"], r["n_test"]) for r in report["models"]})
    one_image = "; ".join(
        f"{task}: {n} images, one image = {100 / n:.2f} points" for task, n in sizes
    )
    lines += ["", f"Test sets: {one_image}.", ""]
    if report["paired_tests"]:
        lines += [
            "## Paired tests on the same test images",
            "",
            f"Exact McNemar test (two-sided, α = {report['alpha']}, not corrected for the "
            "number of comparisons): only the images on which exactly one of the two models "
            "is right tell them apart.",
            "",
            "| model A | model B | accuracy A % | accuracy B % | A − B, points "
            "| only A right | only B right | p-value | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for t in report["paired_tests"]:
            lines.append(
                f"| {t['a']} | {t['b']} | {_pct(t['accuracy_a'])} | {_pct(t['accuracy_b'])} "
                f"| {100 * (t['accuracy_a'] - t['accuracy_b']):+.2f} | {t['only_a_correct']} "
                f"| {t['only_b_correct']} | {t['p_value']:.3g} | {t['verdict']} |"
            )
        lines.append("")
    if report["confused_pairs"]:
        lines += [
            "## Most confused class pairs (mistakes either way, all 36-class models)",
            "",
            "| classes | mistakes | by model |",
            "|---|---:|---|",
        ]
        for c in report["confused_pairs"]:
            by_model = ", ".join(f"{m} {n}" for m, n in c["by_model"].items())
            lines.append(f"| {c['classes'][0]} ↔ {c['classes'][1]} | {c['errors']} | {by_model} |")
        lines.append("")
    return "\n".join(lines)
