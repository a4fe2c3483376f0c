"""One pass of every test image through one model, recording at once what the stage needs
of it: the outputs (to pick the images to explain), the scale of the map the head reads
(the 'same place' an attention model is compared at) and, for an attention model, its
block's channel weights and the scale of the map before and after the block.

One pass per model, in batches, keeps only running statistics of the maps: a study-sized
run's maps would not all fit in memory.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from fruitveg.explain.attention import AttentionNumbers, Scale, channel_gate
from fruitveg.explain.gradcam import BATCH, head_input


@dataclass(frozen=True)
class Gate:
    weights: np.ndarray  # (images, channels)
    before: Scale
    after: Scale
    shape: list[int]  # (h, w, channels) of the map the block scales


@dataclass(frozen=True)
class PassRecord:
    outputs: np.ndarray  # (images, labels), float64: the model's outputs (logits as loaded)
    head: Scale  # the map the head reads
    head_shape: list[int]  # its (h, w, channels)
    gate: Gate | None  # attention models only


def probe_model(model: Any, gate: bool) -> Any:
    """images -> (outputs, head map[, before the block, channel weights, after the block])."""
    import keras

    found = [model.outputs[0], head_input(model)]
    if gate:
        g = channel_gate(model)
        found += [g.before, g.weights, g.after]
    return keras.Model(model.inputs[0], found)


def run_pass(model: Any, images: np.ndarray, gate: bool, batch: int = BATCH) -> PassRecord:
    """Every image through `model` once; with `gate`, its attention block recorded too."""
    probe = probe_model(model, gate)
    outputs, head = [], Scale()
    before, after, weights = Scale(), Scale(), []
    for i in range(0, len(images), batch):
        found = probe(images[i : i + batch].astype(np.float32), training=False)
        outputs.append(np.asarray(found[0], dtype=np.float64))
        head.add(np.asarray(found[1]))
        if gate:
            before.add(np.asarray(found[2]))
            weights.append(np.asarray(found[3], dtype=np.float32).reshape(len(found[3]), -1))
            after.add(np.asarray(found[4]))
    shapes = [list(t.shape[1:]) for t in probe.outputs]
    recorded = Gate(np.concatenate(weights), before, after, shapes[2]) if gate else None
    return PassRecord(np.concatenate(outputs), head, shapes[1], recorded)


def attention_numbers(block: PassRecord, plain: PassRecord | None) -> AttentionNumbers:
    """An attention model's block beside the same place of the model without it."""
    if block.gate is None:
        raise ValueError("the pass of an attention model must record its block (gate=True)")
    shapes = {"before": block.gate.shape}
    if plain is not None:
        shapes["paired"] = plain.head_shape
    paired = plain.head if plain is not None else None
    return AttentionNumbers(block.gate.weights, block.gate.before, block.gate.after, paired, shapes)
