"""A .tflite model run by the LiteRT interpreter (the `ai-edge-litert` package), behind the
one method evaluation's timing code calls: predict_on_batch(float32 images) -> outputs.

So fruitveg.scoring.inference times a TFLite model exactly as it times the Keras one.
Integer inputs are quantized and integer outputs dequantized with the tensors' own scale
and zero point. One interpreter per batch shape: a shape change reallocates tensors, which
would otherwise be timed as inference.
"""

from pathlib import Path

import numpy as np


class TfliteModel:
    def __init__(self, content: bytes, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._make = lambda: Interpreter(model_content=content, num_threads=threads)
        self._by_shape: dict[tuple[int, ...], object] = {}
        probe = self._make()
        self.input = probe.get_input_details()[0]
        self.output = probe.get_output_details()[0]

    @classmethod
    def load(cls, path: Path, threads: int) -> "TfliteModel":
        return cls(Path(path).read_bytes(), threads)

    @property
    def image_size(self) -> tuple[int, int]:
        _, height, width, _ = self.input["shape"]
        return int(height), int(width)

    def _interpreter(self, shape: tuple[int, ...]):
        interpreter = self._by_shape.get(shape)
        if interpreter is None:
            interpreter = self._make()
            interpreter.resize_tensor_input(self.input["index"], list(shape))
            interpreter.allocate_tensors()
            self._by_shape[shape] = interpreter
        return interpreter

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """Outputs (float32) for a batch of 0-255 RGB images."""
        interpreter = self._interpreter(tuple(images.shape))
        x = images
        dtype = self.input["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero = self.input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(images / scale + zero), info.min, info.max)
        interpreter.set_tensor(self.input["index"], np.ascontiguousarray(x, dtype=dtype))
        interpreter.invoke()
        out = interpreter.get_tensor(self.output["index"])
        if np.issubdtype(out.dtype, np.integer):
            scale, zero = self.output["quantization"]
            return ((out.astype(np.float32) - zero) * scale).astype(np.float32)
        return out.astype(np.float32)
