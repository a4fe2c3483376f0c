"""Which precision a model trains in: auto's choice per processor and model; float32 outputs."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fruitveg.core.model_config import ARCHS
from fruitveg.models.build import ModelSpec, build_model
from fruitveg.training import precision
from fruitveg.training.runtime import configure_runtime, jit_compile
from fruitveg.training.settings import train_settings

from .helpers import make_params, write_layout

AVX2_ONLY = "fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma"
AVX512_NO_BF16 = AVX2_ONLY + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"
AVX512_BF16 = AVX512_NO_BF16 + " avx512_bf16"
AMX = AVX512_NO_BF16 + " amx_bf16 amx_tile amx_int8"

no_gpu = pytest.mark.skipif(
    bool(tf.config.list_physical_devices("GPU")), reason="auto picks float16 on a GPU"
)


def cpuinfo(folder: Path, flags: str) -> Path:
    """A Linux /proc/cpuinfo of two identical cores with these flags."""
    core = "processor\t: {}\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nflags\t\t: {}\n\n"
    path = folder / "cpuinfo"
    path.write_text(core.format(0, flags) + core.format(1, flags))
    return path


@pytest.mark.parametrize(
    "flags, native", [(AVX2_ONLY, False), (AVX512_NO_BF16, False), (AVX512_BF16, True), (AMX, True)]
)
def test_native_bfloat16_is_read_from_the_processor_flags(
    tmp_path: Path, flags: str, native: bool
) -> None:
    found = precision.cpu_flags(cpuinfo(tmp_path, flags))
    assert "avx2" in found and len(found) >= 10
    assert precision.native_bf16(found) is native


def test_no_cpuinfo_means_no_native_bfloat16(tmp_path: Path) -> None:
    assert precision.cpu_flags(tmp_path / "missing") == frozenset()
    (tmp_path / "odd").write_text("processor\t: 0\n")
    assert precision.cpu_flags(tmp_path / "odd") == frozenset()


@pytest.mark.parametrize("arch", ["cnn", "vgg16", "resnet50"])
def test_auto_without_native_bfloat16_is_float32(tmp_path: Path, arch: str) -> None:
    for flags in (AVX2_ONLY, AVX512_NO_BF16, ""):
        detected = precision.cpu_flags(cpuinfo(tmp_path, flags))
        assert precision.resolve("auto", arch, gpu=False, flags=detected)[0] == "float32"
        assert precision.resolve("auto", arch, gpu=True, flags=detected)[0] == "float16"


def test_auto_with_native_bfloat16_follows_the_measured_table(tmp_path: Path) -> None:
    detected = precision.cpu_flags(cpuinfo(tmp_path, AVX512_BF16))
    picks = {a: precision.resolve("auto", a, gpu=False, flags=detected)[0] for a in ARCHS}
    assert picks == {
        a: "bfloat16" if a in precision.BF16_FASTER_ON_CPU else "float32" for a in ARCHS
    }
    assert "bfloat16" in picks.values()  # else the table would not be used at all


def test_explicit_choices_stand_on_any_machine() -> None:
    for choice in precision.PRECISIONS:
        for gpu in (False, True):
            for flags in (frozenset(), frozenset({"avx512_bf16"})):
                assert precision.resolve(choice, "resnet50", gpu=gpu, flags=flags)[0] == choice


def test_xla_auto_is_off_on_a_cpu() -> None:
    assert jit_compile("auto", gpu=False) is False
    assert jit_compile("auto", gpu=True) is True
    assert jit_compile(True, gpu=False) is True and jit_compile(False, gpu=True) is False


@no_gpu
@pytest.mark.parametrize("flags, policy", [(AVX512_NO_BF16, "float32"), (AVX512_BF16, None)])
def test_configure_runtime_sets_the_policy_auto_resolves_to(
    repo: Path, monkeypatch: pytest.MonkeyPatch, flags: str, policy: str | None
) -> None:
    write_layout(repo, "multiclass", ("a", "b"), {"train": 1, "validation": 1})
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo(repo, flags))  # the simulated processor
    for model in ("cnn", "resnet50"):
        runtime = configure_runtime(train_settings(make_params(), model))
        want = policy or ("bfloat16" if model == "cnn" else "float32")
        assert runtime.precision == want
        assert runtime.mixed_precision is (want != "float32")
        assert keras.mixed_precision.global_policy().name == precision.POLICY[want]
        assert runtime.jit_compile is False


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec("cnn", 32, 3),
        ModelSpec("cnn", 32, 2, binary=True),
        ModelSpec("cnn", 32, 3, attention="se"),
        ModelSpec("vgg16", 32, 3, attention="cbam"),
    ],
    ids=["cnn", "binary_cnn", "cnn_se", "vgg16_cbam"],
)
def test_a_bfloat16_model_computes_in_bfloat16_and_outputs_float32(spec: ModelSpec) -> None:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(spec)
    computing = {layer.compute_dtype for layer in model.layers if layer.weights}
    assert "bfloat16" in computing  # the reduced precision is in effect
    assert model.get_layer("output").compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)  # variables stay float32
    raw = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = model(raw, training=False)
    assert out.dtype == "float32"
    probs = out.numpy()
    if spec.binary:
        assert probs.shape == (2, 1) and np.all((probs > 0) & (probs < 1))
    else:  # a softmax summing to 1 at float32 accuracy, not bfloat16's 1 in 256
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
