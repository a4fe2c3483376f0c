"""Which float type a model trains in: `train.mixed_precision` resolved per model and machine.

`auto` picks float16 on a GPU; on a CPU, bfloat16 where the processor computes it natively
(AVX512-BF16 or AMX, read from its flags, never assumed) and the architecture was measured
faster in it; float32 otherwise. Reduced precision is Keras' mixed policy: variables, the
output layer and the loss stay float32, so outputs and saved models are float32 either way.
"""

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


def cpu_flags(cpuinfo: Path | None = None) -> frozenset[str]:
    """The processor's feature flags from a Linux cpuinfo file; none where it can't be read."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: no detection, so auto keeps float32 on the CPU
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


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
