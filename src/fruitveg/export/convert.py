"""Keras model -> TensorFlow Lite flatbuffer, in each of the four formats.

The converted model is the one evaluation runs (fruitveg.scoring.loading.load_model): it
takes raw 0-255 RGB and outputs the logits under the softmax or sigmoid, so every format is
scored by the same code as the Keras model. Full-integer int8 takes uint8 pixels and gives
int8 logits, integer from end to end as a microcontroller would run it; the interpreter
wrapper (fruitveg.export.runtime) quantizes and dequantizes at the edges.
"""

import contextlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.core.errors import PipelineError

# name -> what it is, as the report's table says it
FORMATS = {
    "float32": "TFLite float32",
    "float16": "TFLite float16 weights",
    "dynamic_int8": "TFLite dynamic-range int8 (int8 weights, float activations)",
    "int8": "TFLite full-integer int8 (calibrated; uint8 in, int8 out)",
}


class ConversionError(PipelineError):
    """The converter refused the model in one format; the message is its reason."""


@contextlib.contextmanager
def saved_model(model: Any) -> Iterator[Path]:
    """`model` as a TensorFlow SavedModel in a temporary folder, exported once for every
    format (TFLiteConverter.from_keras_model would export it again for each: most of the
    conversion time of a large model)."""
    with tempfile.TemporaryDirectory(prefix="fruitveg-export-") as tmp:
        try:
            # Keras prints the signature it exported on stdout: not the stage's output.
            with contextlib.redirect_stdout(io.StringIO()):
                model.export(tmp, format="tf_saved_model")
        except Exception as exc:  # many types; each means no format can be made
            raise ConversionError(f"SavedModel export: {reason(exc)}") from exc
        yield Path(tmp)


def convert(source: Path, fmt: str, calibration: np.ndarray) -> bytes:
    """The .tflite bytes of the SavedModel `source` in `fmt`; `calibration` (uint8 images)
    sets full-integer int8's ranges."""
    import tensorflow as tf

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source))
    if fmt != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif fmt == "int8":

        def representative():
            for image in calibration:
                yield [image[None].astype(np.float32)]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.int8
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises many types; each means "can't convert"
        raise ConversionError(reason(exc)) from exc


def reason(exc: BaseException) -> str:
    """A converter's error in one line: its type and the first informative line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__
