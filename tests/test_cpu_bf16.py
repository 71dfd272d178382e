"""A bf16 forward pass on a CPU without native bf16 warns, naming the config key (measured: the layer statistics
530 s in bf16 on an AVX2 AMD EPYC VM, about 23 s on the Intel Xeon VM with AMX); nothing is switched."""
from __future__ import annotations

from seqedit.cpu_bf16 import cpu_flags, warn_if_emulated

AVX2_ONLY = {"fpu", "sse4_2", "avx", "avx2", "fma"}
WITH_AMX = AVX2_ONLY | {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}


def test_bf16_on_an_avx2_cpu_warns_and_names_the_key(capsys):
    message = warn_if_emulated("bfloat16", "cpu", "stats.model_dtype", flags=AVX2_ONLY)
    assert message is not None and "stats.model_dtype" in message and "avx512_bf16" in message
    assert "stats.model_dtype: bfloat16 on a CPU without native bf16" in capsys.readouterr().err


def test_native_bf16_float32_or_a_gpu_say_nothing(capsys):
    assert warn_if_emulated("bfloat16", "cpu", "stats.model_dtype", flags=WITH_AMX) is None
    assert warn_if_emulated("float32", "cpu", "stats.model_dtype", flags=AVX2_ONLY) is None
    assert warn_if_emulated("bfloat16", "cuda:0", "stats.model_dtype", flags=AVX2_ONLY) is None
    assert capsys.readouterr().err == ""


def test_the_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n\n")
    assert cpu_flags(info) == {"fpu", "avx", "avx2", "fma"}
    assert cpu_flags(tmp_path / "absent") is None
