"""Which float type a model trains in: `train.mixed_precision` resolved per model and machine.

`auto` picks float16 on a GPU; on a CPU, bfloat16 where the processor computes it natively
(AVX512-BF16 or AMX, read from its flags, never assumed) and the architecture was measured
faster in it; float32 otherwise. Reduced precision is Keras' mixed policy: variables, the
output layer and the loss stay float32, so outputs and saved models are float32 either way.
"""

from collections.abc import Mapping
from pathlib import Path

PRECISIONS = ("float32", "bfloat16", "float16")
POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}

# x86 flags (Linux /proc/cpuinfo names) of native bfloat16 arithmetic, which oneDNN uses.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

# Architectures that train faster in mixed bfloat16 than in float32 on a CPU with native
# bfloat16, measured with bench/train_speed.py (training images/s, bfloat16 / float32, same
# run; AMD EPYC, 2 cores, AVX512-BF16, no AMX, shared with other jobs; TensorFlow 2.21,
# Keras 3; 64 px, batch 32): cnn 1.66-1.70x (binary_cnn, cnn, cnn_attention), vgg16
# 1.82-1.83x (with and without SE). resnet50 stays float32: 0.69x here, 1.0x at 64 px and
# 0.74x at 128 px on the AMX machine (resnet50_attention's 1.23x here is noise: its
# float32 figure was half of resnet50's). Rerun the benchmark before adding an architecture.
BF16_FASTER_ON_CPU = frozenset({"cnn", "vgg16"})

CPUINFO = Path("/proc/cpuinfo")


# oneDNN's x86 instruction sets, lowest first: each needs the cpuinfo flags of the set it
# builds on plus its own, as oneDNN 3's mayiuse() checks the same CPUID bits. oneDNN runs
# the highest one present, at most ONEDNN_MAX_CPU_ISA. Its preview sets (avx2_vnni_2,
# avx512_core_amx_fp16), left out unless that cap asks for them, are not listed.
_AVX512_CORE = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
ONEDNN_ISAS: dict[str, frozenset[str]] = {}
for _name, _base, _own in (
    ("sse41", None, {"sse4_1"}),
    ("avx", None, {"avx"}),
    ("avx2", None, {"avx2"}),
    ("avx2_vnni", "avx2", {"avx_vnni"}),
    ("avx512_core", None, _AVX512_CORE),
    ("avx512_core_vnni", "avx512_core", {"avx512_vnni"}),
    ("avx512_core_bf16", "avx512_core_vnni", {"avx512_bf16"}),
    ("avx512_core_fp16", "avx512_core_bf16", {"avx512_fp16", "avx2", "avx_vnni"}),
    ("avx512_core_amx", "avx512_core_fp16", {"amx_tile", "amx_int8", "amx_bf16"}),
):
    ONEDNN_ISAS[_name] = ONEDNN_ISAS.get(_base, frozenset()) | _own


def _cpuinfo(key: str, cpuinfo: Path | None = None) -> str | None:
    """The first `key: value` of a Linux cpuinfo file; None where it can't be read."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def cpu_flags(cpuinfo: Path | None = None) -> frozenset[str]:
    """The processor's feature flags; none where they can't be read, so auto keeps float32."""
    return frozenset((_cpuinfo("flags", cpuinfo) or "").split())


def cpu_name(cpuinfo: Path | None = None) -> str:
    return _cpuinfo("model name", cpuinfo) or "unknown processor"


def onednn_isa(flags: frozenset[str], env: Mapping[str, str]) -> str:
    """The instruction set oneDNN dispatches to on this processor, by its own name (what
    ONEDNN_VERBOSE=1 prints as `isa:`, checked so in tests/models/test_precision.py)."""
    names = list(ONEDNN_ISAS)
    cap = (env.get("ONEDNN_MAX_CPU_ISA") or env.get("DNNL_MAX_CPU_ISA") or "").lower()
    allowed = names[: names.index(cap) + 1] if cap in names else names  # DEFAULT, ALL: no cap
    present = [name for name in allowed if ONEDNN_ISAS[name] <= flags]
    return present[-1] if present else "unknown (no x86 flags in /proc/cpuinfo)"


def native_bf16(flags: frozenset[str]) -> bool:
    return not flags.isdisjoint(NATIVE_BF16_FLAGS)


def resolve(choice: str, arch: str, *, gpu: bool, flags: frozenset[str]) -> tuple[str, str]:
    """The precision for `choice` (auto or one of PRECISIONS) and why, for the log."""
    if choice != "auto":
        return choice, "train.mixed_precision"
    if gpu:
        return "float16", "auto: a GPU"
    if not native_bf16(flags):
        return "float32", "auto: a CPU without native bfloat16"
    if arch in BF16_FASTER_ON_CPU:
        return "bfloat16", f"auto: native bfloat16 CPU, {arch} measured faster in it"
    return "float32", f"auto: native bfloat16 CPU, but {arch} measured no faster in it"
