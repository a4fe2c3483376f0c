"""Which precision a model trains in: auto's choice per processor and model; float32 outputs."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fruitveg.core.model_config import ARCHS
from fruitveg.models.build import ModelSpec, build_model
from fruitveg.training import precision
from fruitveg.training.runtime import configure_runtime, jit_compile, trained_with
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
        facts = trained_with(runtime)  # what train@<model> records beside the model
        assert facts["precision"] == want and facts["xla"] is False
        assert facts["cpu_isa"] == ("avx512_core_bf16" if policy is None else "avx512_core_vnni")
        assert facts["device"] == "CPU (Xeon)" and facts["tensorflow"] == tf.__version__
        assert facts["cpus"] == os.cpu_count() and facts["intra_op_threads"] >= 0


@pytest.mark.parametrize(
    "flags, cap, isa",
    [
        (AVX2_ONLY, None, "avx2"),
        (AVX2_ONLY + " avx_vnni", None, "avx2_vnni"),
        (AVX512_NO_BF16, None, "avx512_core_vnni"),
        (AVX512_BF16, None, "avx512_core_bf16"),
        (AVX512_BF16, "AVX2", "avx2"),  # ONEDNN_MAX_CPU_ISA caps what oneDNN runs
        (AVX512_BF16, "DEFAULT", "avx512_core_bf16"),
        (AVX512_BF16 + " avx512_fp16 avx_vnni amx_tile amx_int8 amx_bf16", None, "avx512_core_amx"),
        ("fp asimd evtstrm", None, "unknown (no x86 flags in /proc/cpuinfo)"),
    ],
)
def test_the_instruction_set_is_onednns_highest_one_the_flags_allow(
    flags: str, cap: str | None, isa: str
) -> None:
    env = {"ONEDNN_MAX_CPU_ISA": cap} if cap else {}
    assert precision.onednn_isa(frozenset(flags.split()), env) == isa


# What ONEDNN_VERBOSE prints as `isa:` for each set (oneDNN 3's isa_info_t::get_name).
ONEDNN_WORDS = {
    "sse41": "Intel SSE4.1",
    "avx": "Intel AVX",
    "avx2": "Intel AVX2",
    "avx2_vnni": "Intel AVX2 with Intel DL Boost",
    "avx512_core": "Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions",
    "avx512_core_vnni": "Intel AVX-512 with Intel DL Boost",
    "avx512_core_bf16": "Intel AVX-512 with Intel DL Boost and bfloat16 support",
    "avx512_core_fp16": "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support",
    "avx512_core_amx": "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support and "
    "Intel AMX with bfloat16 and 8-bit integer support",
}


@pytest.mark.slow  # starts TensorFlow in a fresh interpreter
def test_the_recorded_instruction_set_is_the_one_onednn_reports_on_this_machine() -> None:
    conv = "import tensorflow as tf; tf.nn.conv2d(tf.ones((1, 4, 4, 1)), tf.ones((2, 2, 1, 1)), 1, 'SAME')"  # noqa: E501
    out = subprocess.run(
        [sys.executable, "-c", conv],
        env=os.environ | {"ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    reported = [line.split("isa:", 1)[1] for line in out.splitlines() if ",cpu,isa:" in line]
    if not reported:
        pytest.skip("this TensorFlow runs no oneDNN op here (TF_ENABLE_ONEDNN_OPTS=0, not x86)")
    ours = precision.onednn_isa(precision.cpu_flags(), os.environ)
    assert reported[0].strip() == ONEDNN_WORDS[ours], ours


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
